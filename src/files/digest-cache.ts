import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { fileIdentity } from './file-identity.js';

/**
 * sha256 of files, computed once per (inode, size, mtime): images are hundreds of MB and
 * boot scripts ask for their digest on every boot.
 */
export class DigestCache {
  readonly #cache = new Map<string, { key: string; digest: Promise<string> }>();

  async sha256(path: string): Promise<string | undefined> {
    const key = await fileIdentity(path);
    if (key === undefined) return undefined;
    const hit = this.#cache.get(path);
    if (hit && hit.key === key) return hit.digest;
    const digest = sha256File(path);
    this.#cache.set(path, { key, digest });
    digest.catch(() => this.#cache.delete(path));
    return digest;
  }
}

/** The sha256 of a file's content, hex, read as a stream (images are hundreds of MB). */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
