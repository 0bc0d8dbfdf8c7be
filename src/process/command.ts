import { DisklessError } from '../errors/diskless-error.js';

/**
 * What every way of running a program shares (run.ts, pipe-through.ts, daemon.ts): how a command
 * is shown to a reader, how it ended, and the error when it failed.
 */

/** How a child process ended: an exit code, or the signal that killed it. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Why a command failed: it could not start, its program does not exist, it exited non-zero, or ran out of time. */
export type CommandFailure = 'not-found' | 'cannot-start' | 'exit' | 'timeout';

/**
 * A command that failed. The message names the command, how it ended and the last lines of its
 * output; `failure` lets a caller add advice of its own (e.g. which Debian package to install).
 */
export class CommandError extends DisklessError {
  override name = 'CommandError';
  constructor(
    message: string,
    readonly argv: readonly string[],
    readonly failure: CommandFailure,
    /** How it ended, when it ran at all. */
    readonly exit?: ProcessExit,
  ) {
    super('DL_TOOL', message);
  }
}

/** How many lines of a failed command's output its error shows. */
export const ERROR_TAIL_LINES = 15;

const PLAIN_WORD = /^[\w@%+=:,./-]+$/;

/** argv as a reader could paste it into a shell: words with spaces or quotes are single-quoted. */
export function describeCommand(argv: readonly string[]): string {
  return argv.map((a) => (PLAIN_WORD.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * The error for a command that never ran. ENOENT from spawn means the program is not on PATH (or
 * not at the path given): the usual cause is a Debian package not installed yet.
 */
export function cannotStart(verb: 'run' | 'start', argv: readonly string[], e: NodeJS.ErrnoException): CommandError {
  const missing = e.code === 'ENOENT';
  const hint = missing ? ' (is it installed? scripts/install-deps.sh installs it)' : '';
  return new CommandError(`Cannot ${verb} ${describeCommand(argv)}: ${e.message}${hint}`, argv, missing ? 'not-found' : 'cannot-start');
}

/** "exit 2" or "killed by SIGTERM". */
export function describeExit(exit: ProcessExit): string {
  return exit.signal !== null ? `killed by ${exit.signal}` : `exit ${exit.code}`;
}

/** The last `n` non-empty lines of a command's output, for an error message. */
export function lastLines(text: string, n = ERROR_TAIL_LINES): string {
  return text.trim().split(/\r?\n|\r/).slice(-n).join('\n');
}
