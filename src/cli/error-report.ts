import { DisklessError } from '../errors/diskless-error.js';

/** `diskless` exits 0 when done, EXIT_FAILURE when what was asked failed, EXIT_USAGE when the command line is wrong. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * How `diskless` reports an error that ended a command, and its exit status; the one place
 * that maps errors for the CLI.
 *
 * - A DisklessError: "PREFIX: message"; EXIT_USAGE for DL_USAGE, else EXIT_FAILURE. A config
 *   error reads "diskless: config error: …" whichever command found it: it is about the file.
 * - An option Node's parseArgs refused (code ERR_PARSE_ARGS_…): the message, EXIT_USAGE.
 * - A failed system call (an errno code and a syscall, e.g. EADDRINUSE from listen): the
 *   message, which names the call and the path; EXIT_FAILURE. The system refused, not Diskless.
 * - Anything else was not foreseen, a bug: the message, then the stack for the report; EXIT_FAILURE.
 */
export function reportError(e: unknown, write: (s: string) => void, prefix = 'diskless'): number {
  const line = (s: string) => write(s.endsWith('\n') ? s : `${s}\n`);
  if (e instanceof DisklessError) {
    line(e.code === 'DL_CONFIG' ? `diskless: config error: ${e.message}` : `${prefix}: ${e.message}`);
    return e.code === 'DL_USAGE' ? EXIT_USAGE : EXIT_FAILURE;
  }
  const code = (e as { code?: unknown } | null)?.code;
  if (e instanceof Error && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
    line(`${prefix}: ${e.message}`);
    return EXIT_USAGE;
  }
  if (e instanceof Error && typeof code === 'string' && typeof (e as NodeJS.ErrnoException).syscall === 'string') {
    line(`${prefix}: ${e.message}`);
    return EXIT_FAILURE;
  }
  line(`${prefix}: ${e instanceof Error ? e.message : String(e)}`);
  if (e instanceof Error && e.stack) line(e.stack);
  return EXIT_FAILURE;
}
