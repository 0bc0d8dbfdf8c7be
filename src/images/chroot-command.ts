import { constants } from 'node:os';
import { run } from '../process/run.js';

export interface ChrootCommandOptions {
  env: NodeJS.ProcessEnv;
  /** Aborted with a signal name ("SIGTERM") to pass that signal on to the command. */
  forward: AbortSignal;
}

/** Runs argv (`chroot ROOT …`) to its end and gives its exit status, 128+N when killed by signal N. */
export type ChrootCommandRunner = (argv: readonly string[], o: ChrootCommandOptions) => Promise<number>;

/**
 * The real runner. Without `output`, the command shares our terminal: the admin's terminal
 * becomes the shell's. With it, output is captured line by line (tests) and stdin is empty.
 */
export function spawnChrootCommand(output?: (chunk: string) => void): ChrootCommandRunner {
  return async (argv, o) => {
    const r = await run(argv, {
      env: o.env,
      check: false,
      killOn: o.forward,
      ...(output ? { onLine: (line: string) => output(`${line}\n`) } : { terminal: true }),
    });
    return r.code ?? 128 + (r.signal ? constants.signals[r.signal] : 0);
  };
}
