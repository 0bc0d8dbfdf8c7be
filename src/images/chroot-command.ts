import { spawn } from 'node:child_process';
import { constants } from 'node:os';

export interface ChrootCommandOptions {
  env: NodeJS.ProcessEnv;
  /** Aborted with a signal name ("SIGTERM") to pass that signal on to the command. */
  forward: AbortSignal;
}

/** Runs argv (`chroot ROOT …`) to its end and gives its exit status, 128+N when killed by signal N. */
export type ChrootCommandRunner = (argv: readonly string[], o: ChrootCommandOptions) => Promise<number>;

/**
 * The real runner. Without `output`, stdio is inherited: the admin's terminal becomes the shell's.
 * With it, output is captured (tests) and stdin is empty.
 */
export function spawnChrootCommand(output?: (chunk: string) => void): ChrootCommandRunner {
  return (argv, o) =>
    new Promise((resolve, reject) => {
      const [cmd, ...args] = argv;
      if (!cmd) return reject(new Error('Cannot run a command: empty command'));
      const child = spawn(cmd, args, { env: o.env, stdio: output ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
      child.stdout?.on('data', (c: Buffer) => output?.(c.toString()));
      child.stderr?.on('data', (c: Buffer) => output?.(c.toString()));
      const forward = () => child.kill(o.forward.reason as NodeJS.Signals);
      if (o.forward.aborted) forward();
      o.forward.addEventListener('abort', forward, { once: true });
      child.on('error', (e) => reject(new Error(`Cannot run ${cmd}: ${e.message}`)));
      child.on('close', (code, signal) => {
        o.forward.removeEventListener('abort', forward);
        resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
      });
    });
}
