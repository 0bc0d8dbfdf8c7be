import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, link, mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, fsyncFile, isAtomicTempOf } from '../../files/atomic-write.js';
import { sha256File } from '../../files/digest-cache.js';
import { isCode } from '../../files/error-code.js';
import { acquireLock } from '../../files/lock-file.js';
import { DisklessError } from '../../errors/diskless-error.js';
import { readStateFile, StateFileError, writeStateFile, type StateFileFormat } from '../../files/state-file.js';
import type { RootMode } from '../../config/types.js';

export const ROOT_SQFS = 'root.sqfs';
export const KERNEL = 'vmlinuz';
export const INITRD = 'initrd.img';
export const MANIFEST = 'manifest.json';
export const POINTER = 'published';

export type StoredFile = typeof ROOT_SQFS | typeof KERNEL | typeof INITRD;

export interface FileEntry {
  size: number;
  sha256: string;
}

export interface Manifest {
  name: string;
  version: string;
  /** sha256 of root.sqfs; the version is its first 16 hex digits. */
  sha256: string;
  /** size of root.sqfs in bytes. */
  size: number;
  kernelVersion: string;
  created: string;
  parent: string | null;
  files: Record<StoredFile, FileEntry>;
  /**
   * Root modes the initrd can attach (live always; nbd and nfs when the kernel has their
   * modules). Absent in manifests written before it was recorded: every mode is assumed.
   */
  rootModes?: RootMode[];
  /** Where the tree came from, when it was imported: the reference as given and the digest it resolved to. */
  source?: ImageSource;
}

export interface ImageSource {
  /** "docker://registry.example/app:1.2", "oci-archive:/srv/app.tar", … */
  ref: string;
  /** sha256 of the image manifest (or index) the reference named at import: "sha256:…". */
  digest: string;
}

/** Contents of ROOT/NAME/published. `previous` is newest first: previous[0] is where rollback goes. */
export interface PublishedPointer {
  version: string;
  previous: string[];
  publishedAt: string;
}

export interface VersionPaths {
  dir: string;
  rootSqfs: string;
  kernel: string;
  initrd: string;
  manifest: string;
}

export interface ResolvedImage {
  name: string;
  version: string;
  paths: VersionPaths;
  manifest: Manifest;
}

export interface ShownVersion extends ResolvedImage {
  published: boolean;
}

export interface ImageSummary {
  name: string;
  published: string | null;
  publishedAt: string | null;
  previous: string[];
  /** Oldest first. */
  versions: Manifest[];
}

export interface AddVersionInput {
  squashfs: string;
  kernel: string;
  initrd: string;
  kernelVersion: string;
  parent?: string;
  rootModes?: RootMode[];
  source?: ImageSource;
  /**
   * Hard-link the inputs instead of copying them (falls back to a copy across filesystems).
   * Only for inputs nobody will modify afterwards: a linked file shares its inode with the store.
   */
  link?: boolean;
}

/** Nodes currently running NAME at VERSION (hostnames or MACs, used only in messages). */
export type InUse = (name: string, version: string) => readonly string[] | Promise<readonly string[]>;

export interface RemoveOptions {
  force?: boolean;
  inUse: InUse;
}

export interface RemoveResult {
  warning?: string;
}

export interface GcOptions {
  /** How many entries of the previous stack stay available for rollback. */
  keepPrevious?: number;
}

export interface ImageStoreOptions {
  root: string;
  clock?: () => Date;
}

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
/** A stored version: 16 lowercase hex digits. */
export const STORE_VERSION_PATTERN = /^[0-9a-f]{16}$/;
const VERSION_RE = STORE_VERSION_PATTERN;
const KERNEL_VERSION_RE = /^[A-Za-z0-9._+~-]{1,128}$/;
const SQUASHFS_MAGIC = Buffer.from('hsqs', 'latin1');
// Newer history than this is useless for rollback and would grow the pointer without bound.
const MAX_PREVIOUS = 32;
// A temp dir younger than this may belong to an addVersion still running in another process.
const STALE_TEMP_MS = 60 * 60 * 1000;

export type StoreErrorCode = 'DL_STORE' | 'DL_STORE_NOT_FOUND' | 'DL_STORE_IN_USE';

export class StoreError extends DisklessError {
  override name = 'StoreError';

  constructor(code: StoreErrorCode, message: string) {
    super(code, message);
  }
}

// Neither file carries a format number: the store hands both out as they are on disk (`image
// show`, the API), and a version directory never changes once stored.

/** ROOT/NAME/versions/ID/manifest.json. */
const MANIFEST_FILE: StateFileFormat<Manifest> = {
  what: 'image manifest',
  decode(doc) {
    const files = doc.files as Partial<Record<StoredFile, unknown>> | undefined;
    if (typeof doc.name !== 'string' || typeof doc.version !== 'string' || typeof files !== 'object' || files === null || !files[ROOT_SQFS]) {
      throw new Error(`not a manifest (name, version and files.${ROOT_SQFS} are required)`);
    }
    return doc as unknown as Manifest;
  },
  encode: (manifest) => ({ ...manifest }),
};

/** ROOT/NAME/published. */
const POINTER_FILE: StateFileFormat<PublishedPointer> = {
  what: 'published pointer',
  decode(doc) {
    if (typeof doc.version !== 'string' || !VERSION_RE.test(doc.version) || !Array.isArray(doc.previous)) {
      throw new Error('not a pointer (a 16-hex-digit version and a previous list are required)');
    }
    return doc as unknown as PublishedPointer;
  },
  encode: (pointer) => ({ ...pointer }),
};

/** A store file read as its format; one that cannot be is the store's error, shown as such. */
async function readStoreFile<T>(path: string, format: StateFileFormat<T>): Promise<T | undefined> {
  try {
    return await readStateFile(path, format);
  } catch (e) {
    if (e instanceof StateFileError) throw new StoreError('DL_STORE', e.message);
    throw e;
  }
}

export function validateName(name: string): string {
  // A leading dot is refused too: "." would be ROOT itself, and hidden names are the store's own temp entries.
  if (!NAME_RE.test(name) || name.includes('..') || name.startsWith('.')) {
    throw new StoreError('DL_STORE', `Invalid image name ${JSON.stringify(name)}: use 1 to 64 letters, digits, ".", "_" or "-", not starting with "." and without ".."`);
  }
  return name;
}

export function validateVersion(version: string): string {
  if (!VERSION_RE.test(version)) throw new StoreError('DL_STORE', `Invalid image version ${JSON.stringify(version)}: expected 16 lowercase hex digits`);
  return version;
}

/**
 * Versioned, content-addressed images: ROOT/NAME/versions/ID/{root.sqfs,vmlinuz,initrd.img,manifest.json}
 * plus ROOT/NAME/published, a pointer replaced atomically. Version directories never change once
 * renamed into place, so whoever read the pointer once holds a consistent set of files.
 */
export class ImageStore {
  readonly root: string;
  readonly #clock: () => Date;
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(opts: ImageStoreOptions) {
    this.root = opts.root;
    this.#clock = opts.clock ?? (() => new Date());
  }

  paths(name: string, version: string): VersionPaths {
    const dir = join(this.root, validateName(name), 'versions', validateVersion(version));
    return {
      dir,
      rootSqfs: join(dir, ROOT_SQFS),
      kernel: join(dir, KERNEL),
      initrd: join(dir, INITRD),
      manifest: join(dir, MANIFEST),
    };
  }

  async addVersion(name: string, input: AddVersionInput): Promise<Manifest> {
    validateName(name);
    if (!KERNEL_VERSION_RE.test(input.kernelVersion)) throw new StoreError('DL_STORE', `Invalid kernel version ${JSON.stringify(input.kernelVersion)}`);
    if (input.parent !== undefined) validateVersion(input.parent);
    await checkSquashfsMagic(input.squashfs);
    return this.#locked(name, async () => {
      const imageDir = join(this.root, name);
      const versionsDir = join(imageDir, 'versions');
      const createdImage = !(await exists(imageDir));
      await mkdir(versionsDir, { recursive: true });
      const tmp = join(imageDir, `.add-${randomBytes(6).toString('hex')}`);
      let renamed = false;
      try {
        await mkdir(tmp);
        const files = {} as Record<StoredFile, FileEntry>;
        for (const [file, src] of [[ROOT_SQFS, input.squashfs], [KERNEL, input.kernel], [INITRD, input.initrd]] as const) {
          const dst = join(tmp, file);
          await place(src, dst, input.link ?? false);
          // Hashing the stored copy, not the source, is what makes the id describe what nodes get.
          files[file] = { size: (await stat(dst)).size, sha256: await sha256File(dst) };
        }
        const version = files[ROOT_SQFS].sha256.slice(0, 16);
        const target = join(versionsDir, version);
        if (await exists(target)) return await this.#sameVersion(name, version, files, input.kernelVersion);
        const manifest: Manifest = {
          name,
          version,
          sha256: files[ROOT_SQFS].sha256,
          size: files[ROOT_SQFS].size,
          kernelVersion: input.kernelVersion,
          created: this.#clock().toISOString(),
          parent: input.parent ?? null,
          files,
          ...(input.rootModes ? { rootModes: [...input.rootModes] } : {}),
          ...(input.source ? { source: { ...input.source } } : {}),
        };
        await writeStateFile(join(tmp, MANIFEST), MANIFEST_FILE, manifest);
        await fsyncDir(tmp);
        try {
          await rename(tmp, target);
        } catch (e) {
          // Another process stored the same squashfs first: content addressing makes that ours too.
          if (isCode(e, 'ENOTEMPTY') || isCode(e, 'EEXIST')) return await this.#sameVersion(name, version, files, input.kernelVersion);
          throw e;
        }
        renamed = true;
        await fsyncDir(versionsDir);
        return manifest;
      } finally {
        if (!renamed) {
          await rm(tmp, { recursive: true, force: true });
          if (createdImage) {
            await rmdir(versionsDir).catch(() => {});
            await rmdir(imageDir).catch(() => {});
          }
        }
      }
    });
  }

  async list(): Promise<ImageSummary[]> {
    let entries: string[];
    try {
      entries = await readdir(this.root);
    } catch (e) {
      if (isCode(e, 'ENOENT')) return [];
      throw e;
    }
    const out: ImageSummary[] = [];
    for (const name of entries.sort()) {
      if (!isValidName(name) || !(await exists(join(this.root, name, 'versions')))) continue;
      out.push(await this.#summary(name));
    }
    return out;
  }

  async show(name: string, version?: string): Promise<ShownVersion> {
    validateName(name);
    const pointer = await this.#readPointer(name);
    let v: string;
    if (version === undefined) {
      if (!pointer) throw new StoreError('DL_STORE_NOT_FOUND', `Image ${name} has no published version`);
      v = pointer.version;
    } else v = validateVersion(version);
    const manifest = await this.#readManifest(name, v);
    return { name, version: v, paths: this.paths(name, v), manifest, published: pointer?.version === v };
  }

  async publish(name: string, version: string): Promise<PublishedPointer> {
    validateName(name);
    validateVersion(version);
    return this.#locked(name, async () => {
      await this.#readManifest(name, version);
      const cur = await this.#readPointer(name);
      if (cur?.version === version) return cur;
      const previous = cur ? [cur.version, ...cur.previous.filter((p) => p !== version && p !== cur.version)].slice(0, MAX_PREVIOUS) : [];
      const next: PublishedPointer = { version, previous, publishedAt: this.#clock().toISOString() };
      await this.#writePointer(name, next);
      return next;
    });
  }

  async rollback(name: string): Promise<PublishedPointer> {
    validateName(name);
    return this.#locked(name, async () => {
      const cur = await this.#readPointer(name);
      if (!cur) throw new StoreError('DL_STORE', `Image ${name} has no published version to roll back from`);
      const [back, ...rest] = cur.previous;
      if (back === undefined) throw new StoreError('DL_STORE', `Image ${name}: no previous version to roll back to (published is ${cur.version})`);
      if (!(await exists(this.paths(name, back).manifest))) throw new StoreError('DL_STORE', `Image ${name}: previous version ${back} is no longer in the store`);
      const next: PublishedPointer = { version: back, previous: rest, publishedAt: this.#clock().toISOString() };
      await this.#writePointer(name, next);
      return next;
    });
  }

  /** What a booting node gets: the pointer is read once, so every path belongs to the same version. */
  async resolve(name: string): Promise<ResolvedImage> {
    validateName(name);
    const pointer = await this.#readPointer(name);
    if (!pointer) throw new StoreError('DL_STORE_NOT_FOUND', `Image ${name} has no published version`);
    const manifest = await this.#readManifest(name, pointer.version);
    return { name, version: pointer.version, paths: this.paths(name, pointer.version), manifest };
  }

  async remove(name: string, version: string, opts: RemoveOptions): Promise<RemoveResult> {
    validateName(name);
    validateVersion(version);
    return this.#locked(name, async () => {
      await this.#readManifest(name, version);
      const pointer = await this.#readPointer(name);
      if (pointer?.version === version) throw new StoreError('DL_STORE_IN_USE', `Cannot remove ${name}@${version}: it is the published version; publish another one first`);
      const nodes = [...(await opts.inUse(name, version))];
      if (nodes.length && !opts.force) throw new StoreError('DL_STORE_IN_USE', `Cannot remove ${name}@${version}: running on ${nodes.join(', ')} (use force to remove anyway)`);
      await this.#delete(name, version, pointer);
      return nodes.length ? { warning: `Removed ${name}@${version} while it runs on ${nodes.join(', ')}; they keep their copy in RAM but cannot fetch it again` } : {};
    });
  }

  /**
   * Removes versions that are neither published, nor among the newest `keepPrevious` (2) rollback
   * targets, nor in use. Versions created after the last publish are kept too: they are new builds
   * waiting to be published, not superseded ones. Images never published are left alone for the same reason.
   */
  async collectGarbage(inUse: InUse, opts: GcOptions = {}): Promise<Array<{ name: string; version: string }>> {
    const keep = opts.keepPrevious ?? 2;
    const removed: Array<{ name: string; version: string }> = [];
    for (const { name } of await this.list()) {
      await this.#locked(name, async () => {
        await this.#cleanTemps(name);
        let pointer = await this.#readPointer(name);
        if (!pointer) return;
        const publishedAt = Date.parse(pointer.publishedAt);
        const kept = new Set([pointer.version, ...pointer.previous.slice(0, keep)]);
        for (const m of await this.#versions(name)) {
          if (kept.has(m.version) || Date.parse(m.created) > publishedAt) continue;
          if ((await inUse(name, m.version)).length) continue;
          pointer = await this.#delete(name, m.version, pointer);
          removed.push({ name, version: m.version });
        }
      });
    }
    return removed;
  }

  async #delete(name: string, version: string, pointer: PublishedPointer | null): Promise<PublishedPointer | null> {
    // The pointer is fixed first so rollback never targets a version that is half deleted.
    if (pointer?.previous.includes(version)) {
      pointer = { ...pointer, previous: pointer.previous.filter((p) => p !== version) };
      await this.#writePointer(name, pointer);
    }
    // Renamed out of versions/ in one step, so listings never show a partly deleted version.
    const trash = join(this.root, name, `.del-${version}-${randomBytes(4).toString('hex')}`);
    await rename(this.paths(name, version).dir, trash);
    await rm(trash, { recursive: true, force: true });
    return pointer;
  }

  async #cleanTemps(name: string): Promise<void> {
    const dir = join(this.root, name);
    const now = this.#clock().getTime();
    for (const e of await readdir(dir)) {
      const p = join(dir, e);
      if (e.startsWith('.del-')) await rm(p, { recursive: true, force: true });
      else if (e.startsWith('.add-') || isAtomicTempOf(e, POINTER)) {
        const st = await stat(p).catch(() => undefined);
        if (st && now - st.mtimeMs > STALE_TEMP_MS) await rm(p, { recursive: true, force: true });
      }
    }
  }

  async #sameVersion(name: string, version: string, files: Record<StoredFile, FileEntry>, kernelVersion: string): Promise<Manifest> {
    const existing = await this.#readManifest(name, version);
    const differs: string[] = ([KERNEL, INITRD] as const).filter((f) => existing.files[f].sha256 !== files[f].sha256);
    if (existing.kernelVersion !== kernelVersion) differs.push(`kernelVersion ${existing.kernelVersion}`);
    if (differs.length) {
      throw new StoreError('DL_STORE', `Image ${name}@${version} already holds this squashfs with a different ${differs.join(', ')}; a version is identified by its root alone`);
    }
    return existing;
  }

  async #summary(name: string): Promise<ImageSummary> {
    const pointer = await this.#readPointer(name);
    return {
      name,
      published: pointer?.version ?? null,
      publishedAt: pointer?.publishedAt ?? null,
      previous: pointer?.previous ?? [],
      versions: await this.#versions(name),
    };
  }

  async #versions(name: string): Promise<Manifest[]> {
    const dir = join(this.root, name, 'versions');
    const ids = (await readdir(dir).catch((e: unknown) => (isCode(e, 'ENOENT') ? [] : Promise.reject(e)))).filter((v) => VERSION_RE.test(v));
    const out: Manifest[] = [];
    for (const v of ids) {
      // A version removed between readdir and here is simply no longer listed.
      const m = await this.#readManifest(name, v).catch((e: unknown) => (e instanceof StoreError && e.code === 'DL_STORE_NOT_FOUND' ? undefined : Promise.reject(e)));
      if (m) out.push(m);
    }
    return out.sort((a, b) => a.created.localeCompare(b.created) || a.version.localeCompare(b.version));
  }

  async #readManifest(name: string, version: string): Promise<Manifest> {
    const m = await readStoreFile(this.paths(name, version).manifest, MANIFEST_FILE);
    if (m === undefined) throw new StoreError('DL_STORE_NOT_FOUND', `Image ${name} has no version ${version}`);
    if (m.version !== version || m.name !== name) throw new StoreError('DL_STORE', `Corrupt manifest for ${name}@${version}: it names ${m.name}@${m.version}`);
    return m;
  }

  async #readPointer(name: string): Promise<PublishedPointer | null> {
    return (await readStoreFile(join(this.root, name, POINTER), POINTER_FILE)) ?? null;
  }

  async #writePointer(name: string, p: PublishedPointer): Promise<void> {
    await writeStateFile(join(this.root, name, POINTER), POINTER_FILE, p);
  }

  /**
   * Serialises changes to one image, within this process (a promise chain) and between
   * processes (a lock file: two admins publishing at once, or a build beside a GC): the
   * read-modify-write of the pointer needs it.
   */
  #locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(name) ?? Promise.resolve();
    const locked = async () => {
      await mkdir(this.root, { recursive: true });
      const release = await acquireLock(join(this.root, `.${name}.lock`), 60_000, `image ${name} is being changed`);
      try {
        return await fn();
      } finally {
        await release();
      }
    };
    const run = prev.then(locked, locked);
    const tail = run.catch(() => {});
    this.#locks.set(name, tail);
    void tail.then(() => {
      if (this.#locks.get(name) === tail) this.#locks.delete(name);
    });
    return run;
  }
}

function isValidName(name: string): boolean {
  try {
    validateName(name);
    return true;
  } catch {
    return false;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (e) {
    if (isCode(e, 'ENOENT')) return false;
    throw e;
  }
}

async function checkSquashfsMagic(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    // Catches a swapped argument (kernel given as root) before anything is copied.
    if (bytesRead < 4 || !buf.equals(SQUASHFS_MAGIC)) throw new StoreError('DL_STORE', `${path} is not a squashfs image`);
  } finally {
    await fh.close();
  }
}

async function place(src: string, dst: string, hardLink: boolean): Promise<void> {
  if (hardLink) {
    try {
      await link(src, dst);
      await fsyncFile(dst);
      return;
    } catch (e) {
      if (!isCode(e, 'EXDEV') && !isCode(e, 'EPERM')) throw e;
    }
  }
  // FICLONE makes the copy nearly free on reflink filesystems (btrfs, xfs) and is a plain copy elsewhere.
  await copyFile(src, dst, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  // Read-only so a stray write cannot change a version whose id promises its content.
  await chmod(dst, 0o444);
  await fsyncFile(dst);
}
