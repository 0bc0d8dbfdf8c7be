import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

/**
 * sha256 of files, computed once per (inode, size, mtime): images are hundreds of MB and
 * boot scripts ask for their digest on every boot.
 */
export class DigestCache {
  readonly #cache = new Map<string, { key: string; digest: Promise<string> }>();

  async sha256(path: string): Promise<string | undefined> {
    let st;
    try {
      st = await stat(path);
    } catch {
      return undefined;
    }
    const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    const hit = this.#cache.get(path);
    if (hit && hit.key === key) return hit.digest;
    const digest = new Promise<string>((resolve, reject) => {
      const h = createHash('sha256');
      createReadStream(path)
        .on('data', (c) => h.update(c))
        .on('error', reject)
        .on('end', () => resolve(h.digest('hex')));
    });
    this.#cache.set(path, { key, digest });
    digest.catch(() => this.#cache.delete(path));
    return digest;
  }
}
