import { readFile, realpath, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../files/atomic-write.js';
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
  // The config keeps exactly its old permissions.
  const { mode } = await stat(file);
  await writeFileAtomic(file, text, { mode: mode & 0o7777 });
}
