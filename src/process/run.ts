import { spawn, spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { CommandError, type ProcessExit, cannotStart, describeCommand, describeExit, lastLines } from './command.js';
import { onExitCleanup } from './exit-cleanup.js';
import { lineSplitter } from './output-lines.js';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the command's stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string | Uint8Array;
  /**
   * After this long the command and everything it started are killed (SIGKILL to its process
   * group), and it counts as failed.
   */
  timeoutMs?: number;
  /** Reject when the command exits non-zero, is killed or times out (default true). */
  check?: boolean;
  /** Receives each non-blank line of stdout and stderr as it arrives (progress display). */
  onLine?: (line: string) => void;
  /**
   * The command shares our terminal: stdin, stdout and stderr are inherited (an interactive
   * shell), so nothing is captured and `input` does not apply.
   */
  terminal?: boolean;
  /** When aborted, its reason (a signal name such as "SIGTERM") is sent to the command as a signal. */
  killOn?: AbortSignal;
  /** Run as this user and group (we are root; a program such as initdb refuses to run as root). */
  user?: { uid: number; gid: number };
}

export interface RunResult extends ProcessExit {
  stdout: string;
  stderr: string;
  /** It was killed because `timeoutMs` passed. */
  timedOut: boolean;
}

/**
 * Runs a command (an argv array, never a shell string) to its end and gives its output. By
 * default a failure rejects with a CommandError naming the command, how it ended and the last
 * lines of its output; a program that is not installed says so.
 *
 * Without a timeout the command stays in our process group, so a Ctrl-C at the terminal reaches
 * it as it reaches us. With one it gets a group of its own, so the timeout ends everything it
 * started: a shell's children would otherwise keep its output pipes open and the command would
 * never be seen to end. Such a group no longer hears our terminal, so it is killed if we end first.
 */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.reject(new Error('Cannot run a command: empty argv'));
  const ownGroup = options.timeoutMs !== undefined;
  if (ownGroup && options.terminal === true) {
    // A process group of its own is a background group: reading the terminal would stop it.
    return Promise.reject(new Error(`Cannot run ${describeCommand(argv)}: a command on our terminal cannot have a timeout`));
  }
  const stdin = options.terminal === true ? 'inherit' : options.input === undefined ? 'ignore' : 'pipe';
  const output = options.terminal === true ? 'inherit' : 'pipe';
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: [stdin, output, output],
      env: options.env,
      cwd: options.cwd,
      detached: ownGroup,
      ...(options.user === undefined ? {} : { uid: options.user.uid, gid: options.user.gid }),
    });
    const signalAll = (signal: NodeJS.Signals): void => {
      if (!ownGroup || child.pid === undefined) {
        child.kill(signal);
        return;
      }
      try {
        process.kill(-child.pid, signal);
      } catch {
        // ESRCH: the group is already gone.
      }
    };
    let timedOut = false;
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      signalAll('SIGKILL');
    }, options.timeoutMs);
    const unregister = ownGroup ? onExitCleanup(() => signalAll('SIGKILL')) : () => {};
    const forward = (): void => signalAll(signalName(options.killOn?.reason));
    options.killOn?.addEventListener('abort', forward, { once: true });
    if (options.killOn?.aborted === true) forward();
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      unregister();
      options.killOn?.removeEventListener('abort', forward);
      return true;
    };

    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    for (const [stream, kept] of [[child.stdout, stdout], [child.stderr, stderr]] as const) {
      if (stream === null) continue;
      const lines = options.onLine === undefined ? undefined : lineSplitter(options.onLine);
      stream.on('data', (b: Buffer) => {
        kept.push(b);
        lines?.push(b);
      });
      stream.on('end', () => lines?.flush());
    }
    child.stdin?.on('error', () => {}); // the command may exit without reading its input
    child.stdin?.end(options.input);

    child.on('error', (e) => {
      if (settle()) reject(cannotStart('run', argv, e));
    });
    child.on('close', (code, signal) => {
      if (!settle()) return;
      const result: RunResult = { code, signal, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString(), timedOut };
      if (options.check === false || (code === 0 && !timedOut)) resolve(result);
      else reject(failed(argv, result, options.timeoutMs));
    });
  });
}

function failed(argv: readonly string[], r: RunResult, timeoutMs: number | undefined): CommandError {
  const how = r.timedOut ? `timed out after ${(timeoutMs ?? 0) / 1000} s` : describeExit(r);
  const tail = lastLines(r.stderr.trim() !== '' ? r.stderr : r.stdout);
  const shown = tail === '' ? '' : tail.includes('\n') ? `:\n${tail}` : `: ${tail}`;
  return new CommandError(`Cannot run ${describeCommand(argv)}: ${how}${shown}`, argv, r.timedOut ? 'timeout' : 'exit', { code: r.code, signal: r.signal });
}

function signalName(reason: unknown): NodeJS.Signals {
  return typeof reason === 'string' && reason in constants.signals ? (reason as NodeJS.Signals) : 'SIGTERM';
}

/**
 * For exit hooks only, where nothing asynchronous runs any more: runs argv to its end and gives
 * its stdout, or '' when it cannot run or fails (a hook must carry on with the next resource).
 */
export function runSyncForExitHook(argv: readonly string[]): string {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return '';
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}
