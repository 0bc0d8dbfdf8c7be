import { randomBytes } from 'node:crypto';
import { link, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /**
   * The new file's permissions, set exactly (not through the umask) from its creation, so a
   * secret is never readable by others, not even as the temp file. Without it: 0644 less the
   * process's umask, as for any new file.
   */
  mode?: number;
  /**
   * Never replace: when `path` exists the write fails with EEXIST and leaves it untouched. The
   * complete temp file is hard-linked into place (link(2) refuses an existing name), so the
   * file appears whole or not at all, as with a rename.
   */
  noReplace?: boolean;
}

/**
 * Replaces `path` with `data` so that a concurrent reader (a TFTP transfer of the current initrd,
 * `serve` reloading its config) sees wholly the old or wholly the new content, and a failure
 * leaves the old file and no temp file behind: the temp file lives in the same directory (rename
 * is only atomic within one filesystem; its name starts with a dot, so no listing or glob serves
 * it) and is fsynced before the rename, so a crash cannot leave a renamed-but-empty file; the
 * directory is fsynced after it, so the new entry survives a power failure. `data` may be a
 * stream of chunks (an initrd being compressed). Returns the bytes written.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | AsyncIterable<Uint8Array>,
  options: AtomicWriteOptions = {},
): Promise<number> {
  const tmp = join(dirname(path), atomicTempName(basename(path)));
  const fh = await open(tmp, 'wx', options.mode ?? 0o644);
  let written = 0;
  try {
    if (options.mode !== undefined) await fh.chmod(options.mode);
    if (typeof data === 'string' || data instanceof Uint8Array) {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      await fh.writeFile(bytes);
      written = bytes.length;
    } else {
      for await (const chunk of data) {
        await fh.write(chunk);
        written += chunk.length;
      }
    }
    await fh.sync();
    await fh.close();
    if (options.noReplace === true) {
      await link(tmp, path);
      await rm(tmp, { force: true });
    } else await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dirname(path));
  return written;
}

/** The name of a temp file writeFileAtomic makes for `name`: hidden, unique per process and call. */
function atomicTempName(name: string): string {
  return `.${name}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
}

/**
 * Whether `entry` (a directory entry's name) is a temp file writeFileAtomic made for `name` and
 * left behind by a crash; a directory's owner uses it to clean up without knowing the naming.
 */
export function isAtomicTempOf(entry: string, name: string): boolean {
  return entry.startsWith(`.${name}.`) && /^\d+-[0-9a-f]{8}\.tmp$/.test(entry.slice(name.length + 2));
}

/** Makes a rename or unlink inside `dir` durable; without it the directory entry may be lost on power failure. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync of a file written by someone else (copyFile, link), before it is published by a rename. */
export async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
