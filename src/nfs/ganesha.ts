import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { nullLogger, type Logger } from '../log/logger.js';
import { lastLines } from '../process/command.js';
import { Daemon } from '../process/daemon.js';
import { run } from '../process/run.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { ganeshaConfig, type NfsExport, type NfsVersion } from './ganesha-config.js';

export interface GaneshaOptions {
  bindAddress: string;
  exports: readonly NfsExport[];
  /** Default [4]. Serving 3 needs rpcbind: ganesha registers its NFS and MOUNT services there. */
  versions?: readonly NfsVersion[];
  /** Who may mount (IPv4 addresses and CIDRs); an empty list lets nobody in. */
  clients: readonly string[];
  /** Config, log, pid file and NFSv4 recovery data go under DIR/nfs. */
  stateDir: string;
  logger?: Logger;
  binary?: string;
  startTimeoutMs?: number;
}

const NFS_PORT = 2049;
/** How long ganesha gets to shut down cleanly after SIGTERM before it is killed. */
const STOP_GRACE_MS = 5000;

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.setTimeout(500);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}

/**
 * nfs-ganesha as a child of `diskless serve`: started with our exports, stopped with us.
 * Used because it runs anywhere (no kernel nfsd needed, no rpcbind for NFSv4).
 */
export class GaneshaServer {
  #daemon: Daemon | undefined;
  readonly #log: Logger;

  constructor(private readonly o: GaneshaOptions) {
    this.#log = (o.logger ?? nullLogger).child({ service: 'nfs' });
  }

  get dir(): string {
    return join(this.o.stateDir, 'nfs');
  }

  #clients: readonly string[] = [];

  get #versions(): readonly NfsVersion[] {
    return this.o.versions ?? [4];
  }

  #config(): string {
    return ganeshaConfig({ bindAddress: this.o.bindAddress, exports: this.o.exports, recoveryDir: join(this.dir, 'recovery'), versions: this.#versions, clients: this.#clients });
  }

  async start(): Promise<void> {
    const dir = this.dir;
    await mkdir(join(dir, 'recovery'), { recursive: true, mode: 0o700 });
    const conf = join(dir, 'ganesha.conf');
    const logFile = join(dir, 'ganesha.log');
    this.#clients = this.o.clients;
    await writeFile(conf, this.#config());
    await writeFile(logFile, '');
    if (await canConnect(this.o.bindAddress, NFS_PORT)) {
      throw new Error(`Cannot start the NFS server: something already listens on ${this.o.bindAddress}:${NFS_PORT} (another NFS server? stop it or use mode live/nbd)`);
    }
    const v3 = this.#versions.includes(3);
    if (v3 && !(await rpcbindAnswers('127.0.0.1'))) {
      throw new Error('Cannot serve NFSv3: no rpcbind answers on 127.0.0.1:111, and NFSv3 clients find the NFS and MOUNT services through it (Debian: apt-get install rpcbind; systemctl enable --now rpcbind), or use version: 4');
    }
    const bin = this.o.binary ?? 'ganesha.nfsd';
    // In our process group: whatever signals `diskless serve` with everything it started (a
    // terminal's Ctrl-C, the lab's crash drill) reaches ganesha too.
    const daemon = await Daemon.start([bin, '-F', '-f', conf, '-L', logFile, '-p', join(dir, 'ganesha.pid'), '-N', 'NIV_EVENT'], { ownProcessGroup: false })
      .catch((e: unknown) => {
        throw new Error(`Cannot start the NFS server: ${e instanceof Error ? e.message : String(e)}`);
      });
    this.#daemon = daemon;
    const exitStatus = (): string | undefined => daemon.status && (daemon.status.signal ?? `exit ${daemon.status.code}`);
    void daemon.exited.then(() => {
      if (this.#daemon === daemon) this.#log.log('warn', 'nfs-ganesha exited', { status: exitStatus() });
    });
    const deadline = Date.now() + (this.o.startTimeoutMs ?? 20_000);
    while (Date.now() < deadline) {
      if (daemon.status !== undefined) break;
      if (await canConnect(this.o.bindAddress, NFS_PORT)) {
        if (v3) await this.#checkRegistered();
        this.#log.log('info', 'nfs-ganesha serving', { address: this.o.bindAddress, versions: this.#versions.join(','), exports: this.o.exports.map((e) => e.pseudo).join(','), clients: this.#clients.join(',') });
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const exited = exitStatus();
    // It logs to its log file; what it wrote before opening that (a bad option) is on its stderr.
    const tail = lastLines((await readFile(logFile, 'utf8').catch(() => '')) || daemon.output(), 10);
    await this.stop();
    throw new Error(`Cannot start the NFS server (${bin}${exited ? `: ${exited}` : ': no answer on port 2049'}); its log ends with:\n${tail}`);
  }

  /**
   * ganesha registers NFS and MOUNT v3 with the rpcbind it reaches locally (its unix socket, or
   * loopback); a node asks the rpcbind on the server's address. Different ones (an rpcbind in
   * another network namespace holding /run/rpcbind.sock) would fail every v3 mount: say so now.
   */
  async #checkRegistered(): Promise<void> {
    const deadline = Date.now() + 10_000;
    let listing = '';
    while (Date.now() < deadline) {
      listing = (await run(['rpcinfo', '-p', this.o.bindAddress], { check: false, timeoutMs: 5000 }).catch(() => undefined))?.stdout ?? '';
      if (/^\s*100005\s+3\s+tcp\b/m.test(listing) && /^\s*100003\s+3\s+tcp\b/m.test(listing)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    await this.stop();
    throw new Error(`Cannot serve NFSv3: ganesha's NFS and MOUNT v3 services are not registered with the rpcbind on ${this.o.bindAddress}:111 (is rpcbind running in this network namespace, and the only one this host's /run/rpcbind.sock leads to?); rpcinfo -p says:\n${lastLines(listing, 10)}`);
  }

  /**
   * Lets a new list of clients in: the config is rewritten and ganesha rereads its exports on
   * SIGHUP (running mounts stay). Exports and versions are fixed at start.
   */
  async updateClients(clients: readonly string[]): Promise<void> {
    if (JSON.stringify(clients) === JSON.stringify(this.#clients)) return;
    this.#clients = clients;
    await writeFileAtomic(join(this.dir, 'ganesha.conf'), this.#config());
    this.#daemon?.signal('SIGHUP');
    this.#log.log('info', 'nfs-ganesha clients updated', { clients: clients.join(',') });
  }

  /** SIGTERM, and SIGKILL if it is still running after a grace period. */
  async stop(): Promise<void> {
    const daemon = this.#daemon;
    this.#daemon = undefined;
    await daemon?.stop(STOP_GRACE_MS);
  }
}

/** Whether a portmapper answers at ADDRESS:111 (rpcinfo, from Debian's rpcbind package). */
async function rpcbindAnswers(address: string): Promise<boolean> {
  const r = await run(['rpcinfo', '-p', address], { check: false, timeoutMs: 5000 }).catch(() => undefined);
  return r !== undefined && r.code === 0 && /portmapper/.test(r.stdout);
}
