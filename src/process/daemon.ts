import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { type ProcessExit, cannotStart } from './command.js';
import { onExitCleanup } from './exit-cleanup.js';
import { lineSplitter } from './output-lines.js';

export interface DaemonOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Appends stdout and stderr here as well as to the in-memory tail. */
  logFile?: string;
  /** How much of the latest output `output()` keeps (default 64 KiB). */
  keepBytes?: number;
  /** Receives each non-blank line of stdout and stderr as it arrives. */
  onLine?: (line: string) => void;
  /**
   * true (the default): the daemon leads a process group of its own, so stop() also reaches
   * whatever it forked. false: it stays in ours, so a signal to our whole group (a terminal's
   * Ctrl-C, a supervisor killing us with everything we started) reaches it as it reaches us;
   * stop() then signals the daemon alone.
   */
  ownProcessGroup?: boolean;
  /** Run as this user and group (we are root; a program such as postgres refuses to run as root). */
  user?: { uid: number; gid: number };
}

/** How long stop() waits after SIGTERM before it sends SIGKILL. */
export const DEFAULT_STOP_GRACE_MS = 3000;

/**
 * A long-running child: a server, a QEMU machine, a helper of ours. Its latest output is kept
 * for error messages; stop() asks it to end (SIGTERM) and makes sure it does (SIGKILL after a
 * grace period); it is killed if this Node process ends first.
 */
export class Daemon {
  readonly exited: Promise<ProcessExit>;
  #status: ProcessExit | undefined;
  #tail: Buffer[] = [];
  #tailBytes = 0;
  readonly #keep: number;
  readonly #log: WriteStream | undefined;
  readonly #ownGroup: boolean;
  readonly #unregister: () => void;

  private constructor(readonly argv: readonly string[], readonly pid: number, child: ChildProcess, options: DaemonOptions) {
    this.#keep = options.keepBytes ?? 64 * 1024;
    this.#ownGroup = options.ownProcessGroup ?? true;
    this.#log = options.logFile === undefined ? undefined : createWriteStream(options.logFile, { flags: 'a' });
    // A log that cannot be written must not crash the program; the in-memory tail still has it.
    this.#log?.on('error', () => {});
    for (const stream of [child.stdout, child.stderr]) {
      const lines = options.onLine === undefined ? undefined : lineSplitter(options.onLine);
      stream?.on('data', (b: Buffer) => {
        this.#remember(b);
        this.#log?.write(b);
        lines?.push(b);
      });
      stream?.on('end', () => lines?.flush());
    }
    this.#unregister = onExitCleanup(() => this.killSync());
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        const status = { code, signal };
        this.#unregister();
        // Resolved once the log file holds everything, so a reader after exit sees all of it.
        const done = (): void => {
          this.#status = status;
          resolve(status);
        };
        const log = this.#log;
        if (log === undefined || log.closed) {
          done();
        } else {
          // 'close' also comes after a write error, when 'finish' never does.
          log.once('close', done);
          log.end();
        }
      });
    });
  }

  /** Resolves once the process runs; rejects if it cannot start (e.g. the program is not installed). */
  static start(argv: readonly string[], options: DaemonOptions = {}): Promise<Daemon> {
    const [cmd, ...args] = argv;
    if (cmd === undefined) return Promise.reject(new Error('Cannot start a process: empty argv'));
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env,
      cwd: options.cwd,
      detached: options.ownProcessGroup ?? true,
      ...(options.user === undefined ? {} : { uid: options.user.uid, gid: options.user.gid }),
    });
    return new Promise((resolve, reject) => {
      child.once('error', (e) => reject(cannotStart('start', argv, e)));
      // The pid is set once 'spawn' fired.
      child.once('spawn', () => resolve(new Daemon(argv, child.pid as number, child, options)));
    });
  }

  /** undefined while running. */
  get status(): ProcessExit | undefined {
    return this.#status;
  }

  /** The latest stdout and stderr, interleaved as they arrived. */
  output(): string {
    return Buffer.concat(this.#tail).toString();
  }

  #remember(b: Buffer): void {
    this.#tail.push(b);
    this.#tailBytes += b.length;
    while (this.#tailBytes - (this.#tail[0]?.length ?? 0) >= this.#keep && this.#tail.length > 1) {
      this.#tailBytes -= this.#tail.shift()?.length ?? 0;
    }
  }

  #signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.#ownGroup ? -this.pid : this.pid, signal);
    } catch {
      // ESRCH: already gone.
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs` if it is still running; resolves when it has exited. */
  async stop(graceMs = DEFAULT_STOP_GRACE_MS): Promise<ProcessExit> {
    if (this.#status !== undefined) return this.#status;
    this.#signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    const first = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (first !== undefined) return first;
    this.#signal('SIGKILL');
    return this.exited;
  }

  /** Sends a signal that asks the daemon for something (SIGHUP: reread the config); it runs on. */
  signal(signal: NodeJS.Signals): void {
    if (this.#status === undefined) this.#signal(signal);
  }

  /** Sends `signal` at once (no grace); resolves when it has exited. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ProcessExit> {
    if (this.#status !== undefined) return Promise.resolve(this.#status);
    this.#signal(signal);
    return this.exited;
  }

  /** For exit hooks, where nothing asynchronous runs any more. */
  killSync(): void {
    if (this.#status === undefined) this.#signal('SIGKILL');
  }
}
