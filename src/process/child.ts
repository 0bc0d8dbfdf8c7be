import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { onExitCleanup } from './exit-cleanup.js';
import { DisklessError } from '../errors/diskless-error.js';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunOptions {
  input?: string | Uint8Array;
  timeoutMs?: number;
  /** Reject when the command exits non-zero (default true). */
  check?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface RunResult extends ProcessExit {
  stdout: string;
  stderr: string;
}

const describe = (argv: readonly string[]): string => argv.join(' ');

/** Runs a short command to completion and returns its output. */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.reject(new Error('Cannot run a command: empty argv'));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env, cwd: options.cwd });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new DisklessError('DL_TOOL', `Cannot run ${describe(argv)}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (options.check !== false && code !== 0) {
        const why = signal !== null ? `killed by ${signal}` : `exit ${code}`;
        reject(new DisklessError('DL_TOOL', `Cannot run ${describe(argv)}: ${why}: ${result.stderr.trim()}`));
      } else {
        resolve(result);
      }
    });
    child.stdin.on('error', () => {}); // the command may exit without reading its input
    child.stdin.end(options.input);
  });
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Appends stdout and stderr here as well as to the in-memory tail. */
  logFile?: string;
  /** How much of the latest output `output()` keeps (default 64 KiB). */
  keepBytes?: number;
  /** Gives the process a writable stdin instead of /dev/null. */
  stdin?: boolean;
}

/**
 * A long-running child in its own process group, so stop() also reaches whatever it forked.
 * Every LabProcess is killed if this Node process ends first.
 */
export class LabProcess {
  readonly exited: Promise<ProcessExit>;
  #status: ProcessExit | undefined;
  #tail: Buffer[] = [];
  #tailBytes = 0;
  readonly #keep: number;
  readonly #log: WriteStream | undefined;
  readonly #unregister: () => void;

  private constructor(readonly argv: readonly string[], readonly child: ChildProcess, options: SpawnOptions) {
    this.#keep = options.keepBytes ?? 64 * 1024;
    this.#log = options.logFile === undefined ? undefined : createWriteStream(options.logFile, { flags: 'a' });
    const take = (b: Buffer): void => {
      this.#remember(b);
      this.#log?.write(b);
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    this.#unregister = onExitCleanup(() => this.killSync());
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.#status = { code, signal };
        this.#unregister();
        this.#log?.end();
        resolve(this.#status);
      });
    });
  }

  /** Resolves once the process runs; rejects if it cannot start (e.g. ENOENT). */
  static start(argv: readonly string[], options: SpawnOptions = {}): Promise<LabProcess> {
    const [cmd, ...args] = argv;
    if (cmd === undefined) return Promise.reject(new Error('Cannot start a process: empty argv'));
    const child = spawn(cmd, args, {
      stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: options.env,
      cwd: options.cwd,
      detached: true,
    });
    return new Promise((resolve, reject) => {
      child.once('error', (e) => reject(new DisklessError('DL_TOOL', `Cannot start ${describe(argv)}: ${e.message}`)));
      child.once('spawn', () => resolve(new LabProcess(argv, child, options)));
    });
  }

  get pid(): number {
    // Set once 'spawn' fired, which start() waited for.
    return this.child.pid as number;
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

  #signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves when it has exited. */
  async stop(graceMs = 3000): Promise<ProcessExit> {
    if (this.#status !== undefined) return this.#status;
    this.#signalGroup('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    const first = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (first !== undefined) return first;
    this.#signalGroup('SIGKILL');
    return this.exited;
  }

  /** Sends `signal` to the process group at once (no grace, no cleanup); resolves when it has exited. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ProcessExit> {
    if (this.#status !== undefined) return Promise.resolve(this.#status);
    this.#signalGroup(signal);
    return this.exited;
  }

  /** For exit hooks, where nothing asynchronous runs any more. */
  killSync(): void {
    if (this.#status === undefined) this.#signalGroup('SIGKILL');
  }
}
