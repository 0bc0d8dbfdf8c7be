import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startLabServer } from '../../src/lab/lab-server.js';
import { hostKernel } from '../../src/lab/lab-host.js';
import type { Daemon } from '../../src/process/daemon.js';
import { type BenchNet, SERVER, waitUntil } from './net.js';

export const PORTS = { tftp: 69, http: 8080, nbd: 10809 } as const;
/** Every DHCP server gets the same pool and lease time. */
export const DHCP_POOL = { start: '10.77.1.1', end: '10.77.250.250', mask: '255.255.0.0', leaseSec: 3600 } as const;
/** The NBD export name every server answers to (ours names exports by profile). */
export const NBD_EXPORT = 'bench';

/** A server under test: ours or a peer, started inside the server namespace. */
export interface Server {
  name: string;
  stop(): Promise<void>;
}

export interface OursOptions {
  /** Served read-only over TFTP and HTTP. */
  filesDir: string;
  /** Exported over NBD as NBD_EXPORT. */
  nbdImage?: string;
  dhcp?: boolean;
  /** server.address (default SERVER): a second server on the bridge takes another address. */
  address?: string;
  /** api.port (default 8780): servers in one namespace need their own. */
  apiPort?: number;
  /** The config's `state:` (default: files under state_dir). */
  state?: string;
}

/** `diskless serve` with a config of one profile; logs at its default level (info) to a file. */
export async function startOurs(net: BenchNet, work: string, o: OursOptions): Promise<Server> {
  await mkdir(work, { recursive: true });
  const config = join(work, 'diskless.yaml');
  const dhcp = o.dhcp === true
    ? `dhcp:\n  mode: full\n  pool: ${DHCP_POOL.start}-${DHCP_POOL.end}\n  subnet_mask: ${DHCP_POOL.mask}\n  routers: [${SERVER}]\n  lease_time: ${DHCP_POOL.leaseSec}\n  unknown_clients: allow\n`
    : 'dhcp:\n  mode: off\n';
  const root = o.nbdImage !== undefined ? `    root:\n      mode: nbd\n      image: ${o.nbdImage}\n` : '';
  const api = o.apiPort === undefined ? '' : `api:\n  port: ${o.apiPort}\n`;
  const state = o.state === undefined ? '' : `state: ${o.state}\n`;
  await writeFile(config, `# Written by bench/ for one run.
${api}${state}server:
  address: ${o.address ?? SERVER}
  interface: br0
  http_port: ${PORTS.http}
  tftp_port: ${PORTS.tftp}
  nbd_port: ${PORTS.nbd}
  state_dir: ${join(work, 'state')}
  tftp_root: ${o.filesDir}
  max_tftp_transfers: 1024
  max_tftp_transfers_per_peer: 1024
${dhcp}default_profile: ${NBD_EXPORT}
profiles:
  ${NBD_EXPORT}:
    kernel: ${hostKernel()}
${root}`);
  const p = await startLabServer(net.lab, config, join(work, 'diskless.log'));
  return processServer('diskless', p);
}

function processServer(name: string, p: Daemon): Server {
  return {
    name,
    stop: async () => {
      await p.stop();
    },
  };
}

async function listening(net: BenchNet, proto: 'tcp' | 'udp', port: number): Promise<boolean> {
  const r = await net.server(['ss', '-Hn', proto === 'tcp' ? '-lt' : '-lu', `sport = :${port}`], { check: false });
  return r.stdout.trim() !== '';
}

async function started(net: BenchNet, name: string, p: Daemon, proto: 'tcp' | 'udp', port: number): Promise<Server> {
  await waitUntil(`${name} on ${proto}/${port}`, async () => {
    if (p.status !== undefined) throw new Error(`${name} exited: ${p.output().slice(-1000)}`);
    return listening(net, proto, port);
  });
  return processServer(name, p);
}

/** tftpd-hpa in the foreground (-L), chrooted to the files (-s), as root so it reads them. */
export async function startTftpdHpa(net: BenchNet, filesDir: string): Promise<Server> {
  const p = await net.spawnServer(['in.tftpd', '-L', '-s', '-u', 'root', '-a', `${SERVER}:${PORTS.tftp}`, filesDir]);
  return started(net, 'tftpd-hpa', p, 'udp', PORTS.tftp);
}

const dnsmasqBase = (work: string, tag: string): string[] => [
  'dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--no-resolv', '--no-hosts', '--user=root',
  '--interface=br0', '--bind-interfaces', `--pid-file=${join(work, `dnsmasq-${tag}.pid`)}`,
];

/** dnsmasq as a TFTP server only; --tftp-max raised from its default of 50 transfers. */
export async function startDnsmasqTftp(net: BenchNet, work: string, filesDir: string): Promise<Server> {
  const p = await net.spawnServer([...dnsmasqBase(work, 'tftp'), '--enable-tftp', `--tftp-root=${filesDir}`, '--tftp-max=1024']);
  return started(net, 'dnsmasq', p, 'udp', PORTS.tftp);
}

/**
 * dnsmasq as the DHCP server, leases persisted to its lease file. --no-ping: ours does not
 * probe an address before offering it, so neither does the peer. Lease-max raised from 1000.
 */
export async function startDnsmasqDhcp(net: BenchNet, work: string): Promise<Server> {
  const p = await net.spawnServer([
    ...dnsmasqBase(work, 'dhcp'),
    `--dhcp-range=${DHCP_POOL.start},${DHCP_POOL.end},${DHCP_POOL.mask},${DHCP_POOL.leaseSec}`,
    `--dhcp-leasefile=${join(work, 'dnsmasq.leases')}`, '--dhcp-lease-max=1000000', '--dhcp-authoritative', '--no-ping',
    `--dhcp-option=option:router,${SERVER}`, '--log-facility=-', '--log-dhcp',
  ], { logFile: join(work, 'dnsmasq-dhcp.log') });
  return started(net, 'dnsmasq', p, 'udp', 67);
}

/** dnsmasq as DHCP and TFTP server at once, as the reference boot stack runs it (leases persisted). */
export async function startDnsmasqDhcpTftp(net: BenchNet, work: string, filesDir: string): Promise<Server> {
  const p = await net.spawnServer([
    ...dnsmasqBase(work, 'dhcp-tftp'),
    `--dhcp-range=${DHCP_POOL.start},${DHCP_POOL.end},${DHCP_POOL.mask},${DHCP_POOL.leaseSec}`,
    `--dhcp-leasefile=${join(work, 'dnsmasq.leases')}`, '--dhcp-lease-max=1000000', '--dhcp-authoritative', '--no-ping',
    `--dhcp-option=option:router,${SERVER}`, '--enable-tftp', `--tftp-root=${filesDir}`, '--tftp-max=4096',
  ], { logFile: join(work, 'dnsmasq-dhcp-tftp.log') });
  await waitUntil('dnsmasq on udp/67', () => listening(net, 'udp', 67));
  return started(net, 'dnsmasq', p, 'udp', PORTS.tftp);
}

/** nginx serving the files with sendfile on, one worker per CPU, access log on (ours logs every request too). */
export async function startNginx(net: BenchNet, work: string, filesDir: string): Promise<Server> {
  const conf = join(work, 'nginx.conf');
  await writeFile(conf, `daemon off;
master_process on;
worker_processes auto;
user root;
pid ${join(work, 'nginx.pid')};
error_log ${join(work, 'nginx-error.log')};
events { worker_connections 4096; }
http {
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  access_log ${join(work, 'nginx-access.log')};
  client_body_temp_path ${work};
  proxy_temp_path ${work};
  server {
    listen ${SERVER}:${PORTS.http};
    root ${filesDir};
  }
}
`);
  const p = await net.spawnServer(['nginx', '-c', conf, '-p', work]);
  return started(net, 'nginx', p, 'tcp', PORTS.http);
}

/**
 * nbd-server, one read-only export. It forks a child per connection; with -d (no fork) it would
 * serve one connection and exit, so it runs as the daemon it is, its pid taken from -p.
 */
export async function startNbdServer(net: BenchNet, work: string, image: string): Promise<Server> {
  const conf = join(work, 'nbd-server.conf');
  const pidFile = join(work, 'nbd-server.pid');
  await writeFile(conf, `[generic]
  user = root
  group = root
  listenaddr = ${SERVER}
  port = ${PORTS.nbd}
[${NBD_EXPORT}]
  exportname = ${image}
  readonly = true
`);
  await rm(pidFile, { force: true });
  await net.server(['nbd-server', '-C', conf, '-p', pidFile]);
  await waitUntil(`nbd-server on tcp/${PORTS.nbd}`, () => listening(net, 'tcp', PORTS.nbd));
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  return {
    name: 'nbd-server',
    stop: async () => {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        return; // already gone
      }
      await waitUntil('nbd-server to stop', async () => !(await listening(net, 'tcp', PORTS.nbd)));
    },
  };
}

/** nbdkit's file plugin, read-only, foreground, default threads. */
export async function startNbdkit(net: BenchNet, work: string, image: string): Promise<Server> {
  const p = await net.spawnServer(['nbdkit', '-f', '-r', '-i', SERVER, '-p', String(PORTS.nbd), '-e', NBD_EXPORT, 'file', `file=${image}`], { logFile: join(work, 'nbdkit.log') });
  return started(net, 'nbdkit', p, 'tcp', PORTS.nbd);
}

export async function logTail(path: string, lines = 20): Promise<string> {
  return (await readFile(path, 'utf8').catch(() => '')).split('\n').slice(-lines).join('\n');
}
