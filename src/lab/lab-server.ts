import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { LabNetwork } from './netns.js';
import type { Daemon } from '../process/daemon.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const readLog = (path: string) => readFile(path, 'utf8').catch(() => '');

/**
 * Runs `diskless serve --config CONFIG` inside the lab namespace, appending to `logPath`, and
 * waits for its "serving" line. The log may already hold an earlier run's lines (a restart):
 * only what is written after this start counts, measured before the process exists.
 */
export async function startLabServer(net: LabNetwork, configPath: string, logPath: string, timeoutMs = 30_000, o: { privateRun?: boolean; namespace?: string } = {}): Promise<Daemon> {
  const argv = [process.execPath, CLI, 'serve', '--config', configPath];
  return startServerIn(net, o.privateRun ? withPrivateRun(argv) : argv, logPath, { timeoutMs, ...(o.namespace ? { namespace: o.namespace } : {}) });
}

/**
 * Runs a server command line (any `diskless serve`: this checkout's, an installed one) inside
 * the lab namespace (or `namespace`, the foreign host's), appending to `logPath`, and waits for its "serving" line.
 */
export async function startServerIn(net: LabNetwork, argv: readonly string[], logPath: string, o: { env?: NodeJS.ProcessEnv; timeoutMs?: number; namespace?: string } = {}): Promise<Daemon> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const start = (await readLog(logPath)).length;
  const server = await net.spawn(o.namespace ?? net.name, argv, { logFile: logPath, ...(o.env ? { env: o.env } : {}) });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await readLog(logPath)).slice(start).includes('"msg":"serving"')) return server;
    if (server.status) throw new Error(`diskless serve exited (${JSON.stringify(server.status)}): ${server.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`diskless serve did not report "serving" within ${timeoutMs / 1000} s`);
}

/** The server's JSON log lines, parsed; other lines (a crash trace) are skipped. */
export async function readJsonLog(path: string): Promise<Array<Record<string, unknown>>> {
  return (await readLog(path)).split('\n').flatMap((l) => {
    try {
      return l.startsWith('{') ? [JSON.parse(l) as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

/**
 * `argv` in a mount namespace of its own with an empty /run: rpcbind's socket and lock live at
 * fixed paths there, so the lab's rpcbind and the ganesha that registers with it must not meet
 * the host's (or another lab's) through the shared /run. Without that socket, ganesha reaches
 * the rpcbind on loopback, which is the lab namespace's own.
 */
export function withPrivateRun(argv: readonly string[]): string[] {
  return ['unshare', '--mount', 'sh', '-c', 'mount --make-rprivate / && mount -t tmpfs -o mode=0755 tmpfs /run && exec "$0" "$@"', ...argv];
}

/** rpcbind inside the lab namespace (NFSv3 clients ask it where mountd and nfsd are); destroy() stops it. */
export async function startLabRpcbind(net: LabNetwork, timeoutMs = 10_000): Promise<Daemon> {
  const daemon = await net.spawn(net.name, withPrivateRun(['rpcbind', '-f', '-w']));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await net.exec(net.name, ['rpcinfo', '-p', '127.0.0.1'], { check: false });
    if (r.code === 0) return daemon;
    if (daemon.status) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`rpcbind did not answer in the lab namespace within ${timeoutMs / 1000} s: ${daemon.output().slice(-1000)}`);
}
