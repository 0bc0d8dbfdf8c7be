import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

// Moved to src/files/atomic-write.ts (the DHCP lease table uses it too); re-exported for this module's callers.
export { fsyncDir, writeFileAtomic } from '../../files/atomic-write.js';

/** fsync of a file written by someone else (copyFile, link), before it is published by a rename. */
export async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
