import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { nullLogger, type Logger } from '../log/logger.js';
import { lastLines } from '../process/command.js';
import { Daemon } from '../process/daemon.js';
import { ganeshaConfig, type NfsExport } from './ganesha-config.js';

export interface GaneshaOptions {
  bindAddress: string;
  exports: readonly NfsExport[];
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

  async start(): Promise<void> {
    const dir = this.dir;
    await mkdir(join(dir, 'recovery'), { recursive: true, mode: 0o700 });
    const conf = join(dir, 'ganesha.conf');
    const logFile = join(dir, 'ganesha.log');
    await writeFile(conf, ganeshaConfig({ bindAddress: this.o.bindAddress, exports: this.o.exports, recoveryDir: join(dir, 'recovery') }));
    await writeFile(logFile, '');
    if (await canConnect(this.o.bindAddress, NFS_PORT)) {
      throw new Error(`Cannot start the NFS server: something already listens on ${this.o.bindAddress}:${NFS_PORT} (another NFS server? stop it or use mode live/nbd)`);
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
        this.#log.log('info', 'nfs-ganesha serving', { address: this.o.bindAddress, exports: this.o.exports.map((e) => e.pseudo).join(',') });
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

  /** SIGTERM, and SIGKILL if it is still running after a grace period. */
  async stop(): Promise<void> {
    const daemon = this.#daemon;
    this.#daemon = undefined;
    await daemon?.stop(STOP_GRACE_MS);
  }
}
