import type { BlockCache } from '../files/block-cache.js';
import { fileIdentity } from '../files/file-identity.js';
import type { DisklessConfig } from '../config/types.js';
import type { NbdExport, NbdExportProvider } from '../protocols/nbd/exports.js';
import { fileExport, type FileExport } from '../protocols/nbd/file-export.js';
import type { ImageStore } from '../images/store/image-store.js';
import { parseVersionExport } from '../boot/urls.js';

/**
 * NBD exports named by profile, for profiles whose root is `nbd` and a file image; and
 * NAME@VERSION for stored image versions that an nbd profile uses (boot scripts pin one). An open image is reused
 * while the file stays the same (inode, size, mtime); when a new file replaces it, new
 * connections get the new one and the old descriptor stays open for nodes still using it.
 */
export class ImageExports implements NbdExportProvider {
  readonly #open = new Map<string, { key: string; exp: Promise<FileExport> }>();
  readonly #retired: Array<Promise<FileExport>> = [];

  constructor(private readonly config: () => DisklessConfig, private readonly store?: ImageStore, private readonly cache?: BlockCache) {}

  #image(name: string): string | undefined {
    const pinned = parseVersionExport(name);
    if (pinned && this.store) {
      const { image, version } = pinned;
      const used = [...this.config().profiles.values()].some((p) => p.image === image && p.root?.mode === 'nbd');
      if (!used) return undefined;
      try {
        return this.store.paths(image, version).rootSqfs;
      } catch {
        return undefined;
      }
    }
    const p = this.config().profiles.get(name);
    return p?.root?.mode === 'nbd' && p.image === undefined ? p.root.image : undefined;
  }

  async open(name: string): Promise<NbdExport | undefined> {
    const path = this.#image(name);
    if (!path) return undefined;
    const key = await fileIdentity(path);
    if (key === undefined) return undefined;
    const hit = this.#open.get(path);
    if (hit?.key === key) return hit.exp;
    if (hit) this.#retired.push(hit.exp);
    const exp = fileExport(path, `Diskless root image of profile ${name}`, this.cache);
    this.#open.set(path, { key, exp });
    exp.catch(() => this.#open.delete(path));
    return exp;
  }

  async list(): Promise<readonly string[]> {
    return [...this.config().profiles.values()].filter((p) => p.root?.mode === 'nbd' && p.image === undefined).map((p) => p.name);
  }

  async close(): Promise<void> {
    const all = [...[...this.#open.values()].map((v) => v.exp), ...this.#retired];
    this.#open.clear();
    this.#retired.length = 0;
    await Promise.all(all.map((p) => p.then((e) => e.close()).catch(() => undefined)));
  }
}
