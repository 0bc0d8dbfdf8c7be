import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { readdir, readFile, readlink } from 'node:fs/promises';

/** A process holding a socket: its pid, its command line (argv joined by spaces). */
export interface PortOwner {
  pid: number;
  command: string;
}

/** What binding a port as the server would tells: free, taken (by whom, when we can see), or not checkable. */
export type PortState =
  | { state: 'free' }
  | { state: 'taken'; owners: PortOwner[] }
  | { state: 'unavailable'; reason: string };

/**
 * Binds `address:port` as the server would (TCP listen, or a UDP bind) and lets go at once. On
 * EADDRINUSE the holders are looked up through /proc: the sockets of this network namespace
 * bound to that port, and the processes that have them open.
 */
export async function checkPort(proto: 'udp' | 'tcp', address: string, port: number): Promise<PortState> {
  try {
    await (proto === 'tcp' ? tryListen(address, port) : tryBind(address, port));
    return { state: 'free' };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') return { state: 'taken', owners: await portOwners(proto, port) };
    if (code === 'EACCES') return { state: 'unavailable', reason: 'binding a port below 1024 needs root (run diskless doctor as root)' };
    if (code === 'EADDRNOTAVAIL') return { state: 'unavailable', reason: `${address} is not an address of this host` };
    return { state: 'unavailable', reason: (e as Error).message };
  }
}

function tryListen(address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: address, port, exclusive: true }, () => s.close(() => resolve()));
  });
}

function tryBind(address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4' });
    s.once('error', (e) => {
      s.close();
      reject(e);
    });
    s.bind({ address, port, exclusive: true }, () => s.close(() => resolve()));
  });
}

/** Socket inodes bound to `port` in /proc/net/{udp,udp6} or {tcp,tcp6} (TCP: listening ones). */
export function socketInodes(table: string, port: number, listenOnly: boolean): number[] {
  const out: number[] = [];
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const local = f[1];
    const state = f[3];
    const inode = Number(f[9]);
    if (!local || !Number.isInteger(inode) || inode === 0) continue;
    const p = parseInt(local.split(':')[1] ?? '', 16);
    if (p !== port || (listenOnly && state !== '0A')) continue;
    out.push(inode);
  }
  return out;
}

async function portOwners(proto: 'udp' | 'tcp', port: number): Promise<PortOwner[]> {
  const inodes = new Set<number>();
  for (const t of proto === 'tcp' ? ['tcp', 'tcp6'] : ['udp', 'udp6']) {
    const text = await readFile(`/proc/net/${t}`, 'utf8').catch(() => '');
    for (const i of socketInodes(text, port, proto === 'tcp')) inodes.add(i);
  }
  if (inodes.size === 0) return [];
  const owners: PortOwner[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const fds = await readdir(`/proc/${name}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const link = await readlink(`/proc/${name}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(Number(m[1]))) {
        const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
        owners.push({ pid: Number(name), command: cmdline.split('\0').filter(Boolean).join(' ') });
        break;
      }
    }
  }
  return owners;
}

/** A holder that is a running `diskless serve` (installed, or node …/cli/main.js serve). */
export function isDisklessServe(owner: PortOwner): boolean {
  const words = owner.command.split(' ');
  const serve = words.indexOf('serve');
  return serve > 0 && words.slice(0, serve).some((w) => /(^|\/)diskless$|\/cli\/main\.js$/.test(w));
}
