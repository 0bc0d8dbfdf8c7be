import { randomBytes } from 'node:crypto';
import { open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { acquireLock } from '../files/lock-file.js';

export interface EditFileOptions {
  /** How long to wait for another editor's lock before giving up. */
  lockTimeoutMs?: number;
}

/**
 * Read-modify-write of the config under an exclusive lock, so concurrent editors (CLI, API)
 * never lose each other's changes, and a rename so readers (`serve` reloading) see the old file
 * or the new one, never half of one. `edit` may throw: the file is then left untouched.
 * Returns the text now in the file.
 */
export async function editConfigFile(path: string, edit: (text: string) => string | Promise<string>, options: EditFileOptions = {}): Promise<string> {
  // Through a symlink, the rename must replace the target, not the link.
  const file = await realpath(path);
  const release = await acquireLock(`${file}.lock`, options.lockTimeoutMs ?? 5000, `${file} is being edited`);
  try {
    const before = await readFile(file, 'utf8');
    const after = await edit(before);
    if (after !== before) await replaceFile(file, after);
    return after;
  } finally {
    await release();
  }
}

async function replaceFile(file: string, text: string): Promise<void> {
  const { mode } = await stat(file);
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode & 0o7777);
  try {
    await fh.writeFile(text, 'utf8');
    // open()'s mode passes through the umask; the config must keep exactly its old permissions.
    await fh.chmod(mode & 0o7777);
    await fh.sync();
    await fh.close();
    await rename(tmp, file);
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  // The rename itself is only durable once the directory entry is.
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

