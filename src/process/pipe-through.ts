import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CommandError, type ProcessExit, cannotStart, describeCommand, describeExit, lastLines } from './command.js';

/**
 * Streams `source` through a filter command (`zstd -c`, `xz -dc`) and yields what it writes, for
 * data too big to hold whole. Fails with the source's own error when the source fails, and with a
 * CommandError (the command, its exit, the last lines of its stderr) when the command fails.
 */
export async function* pipeThrough(argv: readonly string[], source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('Cannot run a command: empty argv');
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  const exited = new Promise<ProcessExit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  exited.catch(() => {});

  let sourceFailure: { error: unknown } | undefined;
  // Only errors from the source itself count as its failure: a write error on stdin is thrown
  // into this generator too (at its yield) when the pipeline is torn down.
  async function* watched(): AsyncGenerator<Uint8Array> {
    const it = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await it.next();
        } catch (e) {
          sourceFailure = { error: e };
          throw e;
        }
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      if (sourceFailure === undefined) await it.return?.();
    }
  }
  // A filter may stop reading before the end of its input (zstd -d stops at the end of its
  // frame), so failing to write its stdin is no failure by itself: its exit status says. A
  // failing source must end the command, or reading its output would wait forever.
  child.stdin.on('error', () => {});
  const fed = pipeline(Readable.from(watched(), { objectMode: false }), child.stdin).catch(() => {
    if (sourceFailure !== undefined) child.kill('SIGKILL');
  });
  try {
    for await (const chunk of child.stdout) yield chunk as Uint8Array;
    await fed;
    let exit: ProcessExit;
    try {
      exit = await exited;
    } catch (e) {
      throw cannotStart('run', argv, e as NodeJS.ErrnoException);
    }
    if (sourceFailure !== undefined) throw sourceFailure.error;
    if (exit.code !== 0) {
      const tail = lastLines(Buffer.concat(stderr).toString());
      throw new CommandError(`Cannot run ${describeCommand(argv)}: ${describeExit(exit)}${tail === '' ? '' : `: ${tail}`}`, argv, 'exit', exit);
    }
  } finally {
    // Also reached when the consumer stops early: do not leave the command running.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
