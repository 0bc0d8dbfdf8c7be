import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { nullLogger, type Logger } from '../log/logger.js';
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
  #child: ChildProcess | undefined;
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
    const child = spawn(bin, ['-F', '-f', conf, '-L', logFile, '-p', join(dir, 'ganesha.pid'), '-N', 'NIV_EVENT'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = signal ?? `exit ${code}`;
      if (this.#child === child) this.#log.log('warn', 'nfs-ganesha exited', { status: exited });
    });
    child.once('error', (e) => (exited = e.message));
    const deadline = Date.now() + (this.o.startTimeoutMs ?? 20_000);
    while (Date.now() < deadline) {
      if (exited !== undefined) break;
      if (await canConnect(this.o.bindAddress, NFS_PORT)) {
        this.#log.log('info', 'nfs-ganesha serving', { address: this.o.bindAddress, exports: this.o.exports.map((e) => e.pseudo).join(',') });
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const tail = (await readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-10).join('\n');
    await this.stop();
    throw new Error(`Cannot start the NFS server (${bin}${exited ? `: ${exited}` : ': no answer on port 2049'}); its log ends with:\n${tail}`);
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(timer);
  }
}
