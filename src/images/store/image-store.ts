import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, link, mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, fsyncFile, isAtomicTempOf, writeFileAtomic } from '../../files/atomic-write.js';
import { sha256File } from '../../files/digest-cache.js';
import { isCode } from '../../files/error-code.js';
import { acquireLock } from '../../files/lock-file.js';
import { DisklessError } from '../../errors/diskless-error.js';
import { readStateFile, StateFileError, writeStateFile, type StateFileFormat } from '../../files/state-file.js';
import { unsquashTree } from '../squashfs.js';
import type { RootMode } from '../../config/types.js';
import { pathExists } from '../../files/path-exists.js';

export const ROOT_SQFS = 'root.sqfs';
export const KERNEL = 'vmlinuz';
export const INITRD = 'initrd.img';
export const MANIFEST = 'manifest.json';
export const POINTER = 'published';
/** ROOT/NAME/trees/VERSION: a version's squashfs unpacked, for NFS roots (made on demand). */
export const TREES = 'trees';

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

/**
 * Where the published pointer and the version list of every image live when several boot
 * servers share them (the state database); without one, each store keeps its own in files.
 * Each server's store directory then holds copies of the versions it has, fetched by content
 * hash from a peer when it lacks one, and records here which copies it has.
 */
export interface ImageCatalog {
  /** NAME's published pointer; null when nothing is published. */
  pointer(name: string): Promise<PublishedPointer | null>;
  manifest(name: string, version: string): Promise<Manifest | undefined>;
  /** Every image with its versions (oldest first) and pointer. */
  summaries(): Promise<ImageSummary[]>;
  /**
   * Lists a version just stored here (a build, an import, a publish of a local copy): a no-op
   * when listed already (a version never changes); a removed version is listed again.
   */
  addVersion(manifest: Manifest): Promise<void>;
  /**
   * Lists a copy this server found in its directory (at start), unless the version was
   * removed; false then: the copy is to be dropped, not listed again.
   */
  announceVersion(manifest: Manifest): Promise<boolean>;
  /** Which of NAME's versions were removed (and not stored anew since). */
  removedVersions(name: string): Promise<ReadonlySet<string>>;
  /** Makes a listed version the published one, the current one first in `previous`. */
  publish(name: string, version: string, at: Date): Promise<PublishedPointer>;
  /** Publishes previous[0] again, refusing when it is no longer listed. */
  rollback(name: string, at: Date): Promise<PublishedPointer>;
  /**
   * Takes a version off the list (refused for the published one), and out of `previous`, and
   * records it removed, so every server drops its copy.
   */
  removeVersion(name: string, version: string): Promise<void>;
  /** Records that this server holds a copy of the version, or why it could not get one. */
  recordCopy(name: string, version: string, outcome: CopyOutcome): Promise<void>;
}

export type CopyOutcome = { ok: true } | { ok: false; error: string };

/** A live peer a missing version may be fetched from. */
export interface ObjectSource {
  /** Its boot URL, for messages. */
  readonly name: string;
  /** The bytes of the object with this SHA-256; undefined when the peer has none. Not trusted: the store verifies. */
  fetch(sha256: string): Promise<AsyncIterable<Uint8Array> | undefined>;
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
  /**
   * The pointers and version lists shared by every boot server (the state database): the
   * store's own published files are then not used, and this directory holds this server's
   * copies of the listed versions.
   */
  catalog?: ImageCatalog;
  /** The live peers a listed version this store lacks is fetched from, in order (with a catalog). */
  peers?: () => readonly ObjectSource[];
  /** Told of each fetch from a peer (the server logs them). */
  onFetch?: (e: { name: string; version: string; from?: string; ok: boolean; error?: string; bytes?: number }) => void;
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
  readonly #unpacking = new Map<string, Promise<string>>();
  readonly #fetching = new Map<string, Promise<Manifest>>();
  readonly #catalog: ImageCatalog | undefined;
  readonly #peers: (() => readonly ObjectSource[]) | undefined;
  readonly #onFetch: NonNullable<ImageStoreOptions['onFetch']>;
  /** sha256 → a stored file holding it; the manifests of versions not indexed yet are read on a miss. */
  readonly #objects = new Map<string, string>();
  readonly #indexed = new Set<string>();

  constructor(opts: ImageStoreOptions) {
    this.root = opts.root;
    this.#clock = opts.clock ?? (() => new Date());
    this.#catalog = opts.catalog;
    this.#peers = opts.peers;
    this.#onFetch = opts.onFetch ?? (() => {});
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

  /** ROOT/NAME/trees: the unpacked trees of NAME's versions (one NFS export serves them all). */
  treesDir(name: string): string {
    return join(this.root, validateName(name), TREES);
  }

  /**
   * The version's squashfs unpacked into ROOT/NAME/trees/VERSION, for NFS roots: made once (in
   * a temp directory renamed into place when complete) and then only read. A version never
   * changes, so neither does its tree, and a node that mounted it keeps seeing exactly that
   * version whatever is published later. Removed with its version. Calls for the same version
   * share one unpacking.
   */
  ensureTree(name: string, version: string): Promise<string> {
    const dir = join(this.treesDir(name), validateVersion(version));
    const key = `${name}@${version}`;
    const running = this.#unpacking.get(key);
    if (running) return running;
    const p = (async () => {
      if (await pathExists(dir)) return dir;
      const { rootSqfs } = this.paths(name, version);
      await this.#localManifest(name, version);
      await mkdir(this.treesDir(name), { recursive: true });
      const tmp = join(this.treesDir(name), `.unpack-${version}-${randomBytes(4).toString('hex')}`);
      try {
        await unsquashTree(rootSqfs, tmp);
        await rename(tmp, dir).catch(async (e: unknown) => {
          // Another server process unpacked it first: same bytes, keep theirs.
          if (!(isCode(e, 'ENOTEMPTY') || isCode(e, 'EEXIST'))) throw e;
        });
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      return dir;
    })();
    this.#unpacking.set(key, p);
    void p.finally(() => this.#unpacking.delete(key)).catch(() => {});
    return p;
  }

  async addVersion(name: string, input: AddVersionInput): Promise<Manifest> {
    validateName(name);
    if (!KERNEL_VERSION_RE.test(input.kernelVersion)) throw new StoreError('DL_STORE', `Invalid kernel version ${JSON.stringify(input.kernelVersion)}`);
    if (input.parent !== undefined) validateVersion(input.parent);
    await checkSquashfsMagic(input.squashfs);
    return this.#locked(name, async () => {
      const imageDir = join(this.root, name);
      const versionsDir = join(imageDir, 'versions');
      const createdImage = !(await pathExists(imageDir));
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
        if (await pathExists(target)) return await this.#listed(await this.#sameVersion(name, version, files, input.kernelVersion));
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
          if (isCode(e, 'ENOTEMPTY') || isCode(e, 'EEXIST')) return await this.#listed(await this.#sameVersion(name, version, files, input.kernelVersion));
          throw e;
        }
        renamed = true;
        await fsyncDir(versionsDir);
        return await this.#listed(manifest);
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
    if (this.#catalog) return this.#catalog.summaries();
    return this.#localList();
  }

  /** The versions in this directory, with the local pointers. */
  async #localList(): Promise<ImageSummary[]> {
    let entries: string[];
    try {
      entries = await readdir(this.root);
    } catch (e) {
      if (isCode(e, 'ENOENT')) return [];
      throw e;
    }
    const out: ImageSummary[] = [];
    for (const name of entries.sort()) {
      if (!isValidName(name) || !(await pathExists(join(this.root, name, 'versions')))) continue;
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
    const manifest = await this.#localManifest(name, v);
    return { name, version: v, paths: this.paths(name, v), manifest, published: pointer?.version === v };
  }

  async publish(name: string, version: string): Promise<PublishedPointer> {
    validateName(name);
    validateVersion(version);
    if (this.#catalog) {
      // A version this server holds is listed first (it may predate the shared list); one it
      // lacks must be listed already: the servers that lack it fetch it from one that has it.
      const local = await this.#readManifest(name, version).catch((e: unknown) => (e instanceof StoreError && e.code === 'DL_STORE_NOT_FOUND' ? undefined : Promise.reject(e)));
      if (local) await this.#listed(local);
      else if (!(await this.#catalog.manifest(name, version))) throw new StoreError('DL_STORE_NOT_FOUND', `Image ${name} has no version ${version}`);
      return this.#catalog.publish(name, version, this.#clock());
    }
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
    if (this.#catalog) return this.#catalog.rollback(name, this.#clock());
    return this.#locked(name, async () => {
      const cur = await this.#readPointer(name);
      if (!cur) throw new StoreError('DL_STORE', `Image ${name} has no published version to roll back from`);
      const [back, ...rest] = cur.previous;
      if (back === undefined) throw new StoreError('DL_STORE', `Image ${name}: no previous version to roll back to (published is ${cur.version})`);
      if (!(await pathExists(this.paths(name, back).manifest))) throw new StoreError('DL_STORE', `Image ${name}: previous version ${back} is no longer in the store`);
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
    const manifest = await this.#localManifest(name, pointer.version);
    return { name, version: pointer.version, paths: this.paths(name, pointer.version), manifest };
  }

  async remove(name: string, version: string, opts: RemoveOptions): Promise<RemoveResult> {
    validateName(name);
    validateVersion(version);
    return this.#locked(name, async () => {
      // With a shared catalog the version is removed everywhere, whether or not this server holds a copy.
      if (!this.#catalog || !(await this.#catalog.manifest(name, version))) await this.#readManifest(name, version);
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
    // With a shared catalog, the versions every server holds: what is removed here is removed everywhere.
    for (const { name, versions } of await this.list()) {
      await this.#locked(name, async () => {
        await this.#cleanTemps(name);
        let pointer = await this.#readPointer(name);
        if (!pointer) return;
        const publishedAt = Date.parse(pointer.publishedAt);
        const kept = new Set([pointer.version, ...pointer.previous.slice(0, keep)]);
        for (const m of this.#catalog ? versions : await this.#versions(name)) {
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
    if (this.#catalog) {
      await this.#catalog.removeVersion(name, version);
      pointer = await this.#catalog.pointer(name);
    } else if (pointer?.previous.includes(version)) {
      pointer = { ...pointer, previous: pointer.previous.filter((p) => p !== version) };
      await this.#writePointer(name, pointer);
    }
    await this.#deleteLocal(name, version, this.#catalog !== undefined);
    return pointer;
  }

  /**
   * This server's copy of a version, and its unpacked tree. `absentOk`: a server of a shared
   * catalog need not hold every version it removes.
   */
  async #deleteLocal(name: string, version: string, absentOk: boolean): Promise<void> {
    // Renamed out of versions/ in one step, so listings never show a partly deleted version.
    const trash = join(this.root, name, `.del-${version}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(this.paths(name, version).dir, trash);
      await rm(trash, { recursive: true, force: true });
    } catch (e) {
      if (!absentOk || !isCode(e, 'ENOENT')) throw e;
    }
    await this.#deleteTree(name, version);
  }

  /**
   * With a shared catalog: drops this server's copies of versions removed through any server
   * (of image NAME, or of every image here), unless a fetch or a store of one runs. What it
   * dropped, for the log.
   */
  async dropRemoved(name?: string): Promise<Array<{ name: string; version: string }>> {
    const catalog = this.#catalog;
    if (!catalog) return [];
    const names = name !== undefined ? [validateName(name)] : (await this.#localList()).map((i) => i.name);
    const dropped: Array<{ name: string; version: string }> = [];
    for (const n of names) {
      const removed = await catalog.removedVersions(n);
      if (removed.size === 0) continue;
      await this.#locked(n, async () => {
        for (const m of await this.#versions(n)) {
          if (!removed.has(m.version) || this.#fetching.has(`${n}@${m.version}`)) continue;
          await this.#deleteLocal(n, m.version, true);
          dropped.push({ name: n, version: m.version });
        }
      });
    }
    return dropped;
  }

  /** A version's unpacked tree goes with it: renamed out of trees/ first, then removed. */
  async #deleteTree(name: string, version: string): Promise<void> {
    const trash = join(this.root, name, `.del-tree-${version}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(join(this.treesDir(name), version), trash);
    } catch (e) {
      if (isCode(e, 'ENOENT')) return;
      throw e;
    }
    await rm(trash, { recursive: true, force: true });
  }

  async #cleanTemps(name: string): Promise<void> {
    const dir = join(this.root, name);
    const now = this.#clock().getTime();
    // A shared catalog's image this server holds nothing of has no directory here.
    const entries = await readdir(dir).catch((e: unknown) => (this.#catalog && isCode(e, 'ENOENT') ? [] : Promise.reject(e)));
    for (const e of entries) {
      const p = join(dir, e);
      if (e.startsWith('.del-')) await rm(p, { recursive: true, force: true });
      else if (e.startsWith('.add-') || isAtomicTempOf(e, POINTER)) {
        const st = await stat(p).catch(() => undefined);
        if (st && now - st.mtimeMs > STALE_TEMP_MS) await rm(p, { recursive: true, force: true });
      }
    }
    // Unpackings a crash interrupted, and trees whose version is gone (removed while one was unpacked).
    const trees = await readdir(join(dir, TREES)).catch(() => [] as string[]);
    for (const e of trees) {
      const p = join(dir, TREES, e);
      if (e.startsWith('.unpack-')) {
        const st = await stat(p).catch(() => undefined);
        if (st && now - st.mtimeMs > STALE_TEMP_MS) await rm(p, { recursive: true, force: true });
      } else if (VERSION_RE.test(e) && !(await pathExists(this.paths(name, e).dir))) await this.#deleteTree(name, e);
    }
  }

  /**
   * NAME@VERSION's manifest, its files in this directory: with a shared catalog, a listed
   * version this server lacks is fetched from a peer first (calls for one version share one
   * fetch), so nothing names a version this server cannot serve.
   */
  async #localManifest(name: string, version: string): Promise<Manifest> {
    try {
      return await this.#readManifest(name, version);
    } catch (e) {
      if (!this.#catalog || !(e instanceof StoreError) || e.code !== 'DL_STORE_NOT_FOUND') throw e;
    }
    return this.ensureLocal(name, version);
  }

  /**
   * Makes sure this server holds NAME@VERSION, a version of the shared catalog: when it lacks
   * it, each live peer is asked in turn for its files by content hash. The outcome is recorded
   * in the catalog (`image publish` waits on it).
   */
  ensureLocal(name: string, version: string): Promise<Manifest> {
    validateName(name);
    validateVersion(version);
    const key = `${name}@${version}`;
    const running = this.#fetching.get(key);
    if (running) return running;
    const p = this.#fetch(name, version);
    this.#fetching.set(key, p);
    void p.finally(() => this.#fetching.delete(key)).catch(() => {});
    return p;
  }

  async #fetch(name: string, version: string): Promise<Manifest> {
    const local = await this.#readManifest(name, version).catch((e: unknown) => (e instanceof StoreError && e.code === 'DL_STORE_NOT_FOUND' ? undefined : Promise.reject(e)));
    if (local) return local;
    const catalog = this.#catalog;
    const manifest = await catalog?.manifest(name, version);
    if (!catalog || !manifest) throw new StoreError('DL_STORE_NOT_FOUND', `Image ${name} has no version ${version}`);
    // A command-line store does not fetch: the servers fetch what they serve.
    if (!this.#peers) throw new StoreError('DL_STORE_NOT_FOUND', `Image ${name}@${version} is listed in the state database but this server holds no copy (a running server fetches it from a peer when it serves it)`);
    const peers = this.#peers();
    const failures: string[] = [];
    for (const peer of peers) {
      try {
        const got = await this.adoptVersion(manifest, async (file, entry) => {
          const body = await peer.fetch(entry.sha256);
          if (body === undefined) throw new PeerMissing(`${peer.name} has no copy`);
          return body;
        });
        this.#onFetch({ name, version, from: peer.name, ok: true, bytes: Object.values(manifest.files).reduce((n, f) => n + f.size, 0) });
        await catalog.recordCopy(name, version, { ok: true }).catch(() => {});
        return got;
      } catch (e) {
        failures.push(`${peer.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const error = peers.length === 0 ? 'no live peer to fetch it from' : failures.join('; ');
    this.#onFetch({ name, version, ok: false, error });
    await catalog.recordCopy(name, version, { ok: false, error }).catch(() => {});
    throw new StoreError('DL_STORE', `Cannot serve ${name}@${version}: this server has no copy and could not fetch one (${error})`);
  }

  /**
   * Stores a version whose files come from elsewhere (a peer) under the manifest that names
   * them: each file is checked against the manifest's size and SHA-256 while it streams and
   * written with the atomic-write helper, all into a temp directory renamed into place only when
   * every file matched. A transfer that differs in one byte stores nothing.
   */
  async adoptVersion(manifest: Manifest, source: (file: StoredFile, entry: FileEntry) => Promise<AsyncIterable<Uint8Array>>): Promise<Manifest> {
    const name = validateName(manifest.name);
    const version = validateVersion(manifest.version);
    if (manifest.files[ROOT_SQFS].sha256.slice(0, 16) !== version || manifest.sha256 !== manifest.files[ROOT_SQFS].sha256) {
      throw new StoreError('DL_STORE', `Manifest of ${name}@${version} does not match its root's hash`);
    }
    return this.#locked(name, async () => {
      const imageDir = join(this.root, name);
      const versionsDir = join(imageDir, 'versions');
      const target = join(versionsDir, version);
      if (await pathExists(target)) return this.#readManifest(name, version);
      await mkdir(versionsDir, { recursive: true });
      const tmp = join(imageDir, `.add-${randomBytes(6).toString('hex')}`);
      let renamed = false;
      try {
        await mkdir(tmp);
        for (const file of [ROOT_SQFS, KERNEL, INITRD] as const) {
          const entry = manifest.files[file];
          await writeFileAtomic(join(tmp, file), verified(await source(file, entry), file, entry), { mode: 0o444 });
        }
        await writeStateFile(join(tmp, MANIFEST), MANIFEST_FILE, manifest);
        await fsyncDir(tmp);
        try {
          await rename(tmp, target);
        } catch (e) {
          if (isCode(e, 'ENOTEMPTY') || isCode(e, 'EEXIST')) return await this.#readManifest(name, version);
          throw e;
        }
        renamed = true;
        await fsyncDir(versionsDir);
        return manifest;
      } finally {
        if (!renamed) await rm(tmp, { recursive: true, force: true });
      }
    });
  }

  /**
   * A stored file by its SHA-256 (what a peer asks for), from the manifests in this directory;
   * undefined when no version here holds it.
   */
  async objectFile(sha256: string): Promise<string | undefined> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
    const known = this.#objects.get(sha256);
    if (known !== undefined) {
      if (await pathExists(known)) return known;
      // Its version was removed: another version may hold the same file (a shared kernel).
      this.#objects.clear();
      this.#indexed.clear();
    }
    // A miss lists the version directories and reads only the manifests of versions not seen
    // yet (a version never changes), so unknown hashes cost directory listings, not rereads.
    const names = await readdir(this.root).catch((e: unknown) => (isCode(e, 'ENOENT') ? [] : Promise.reject(e)));
    for (const name of names.filter(isValidName)) {
      const versions = await readdir(join(this.root, name, 'versions')).catch(() => [] as string[]);
      for (const version of versions.filter((v) => VERSION_RE.test(v) && !this.#indexed.has(`${name}@${v}`))) {
        const m = await this.#readManifest(name, version).catch(() => undefined);
        if (!m) continue;
        this.#indexed.add(`${name}@${version}`);
        const paths = this.paths(name, version);
        for (const [file, entry] of Object.entries(m.files) as Array<[StoredFile, FileEntry]>) {
          this.#objects.set(entry.sha256, file === ROOT_SQFS ? paths.rootSqfs : file === KERNEL ? paths.kernel : paths.initrd);
        }
      }
    }
    const found = this.#objects.get(sha256);
    return found !== undefined && (await pathExists(found)) ? found : undefined;
  }

  /**
   * With a shared catalog: lists every version this directory holds and records this server's
   * copy of each (a server starting, or one whose versions predate the shared list), except
   * versions removed while it was away (`dropRemoved` drops those). How many it listed.
   */
  async announceCopies(): Promise<number> {
    const catalog = this.#catalog;
    if (!catalog) return 0;
    let n = 0;
    for (const img of await this.#localList()) {
      for (const m of img.versions) {
        if (await catalog.announceVersion(m)) {
          await catalog.recordCopy(m.name, m.version, { ok: true });
          n++;
        }
      }
    }
    return n;
  }

  /** `m`, just stored here, listed in the shared catalog with this server's copy recorded. */
  async #listed(m: Manifest): Promise<Manifest> {
    if (this.#catalog) {
      await this.#catalog.addVersion(m);
      await this.#catalog.recordCopy(m.name, m.version, { ok: true });
    }
    return m;
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
    if (this.#catalog) return this.#catalog.pointer(name);
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

/** A peer without the object: the next one is asked. */
class PeerMissing extends Error {}

/**
 * `body` passed through while its size and SHA-256 are checked against `entry`: a mismatch
 * throws instead of ending the stream, so writeFileAtomic, which renames its temp file only
 * once the stream ended, removes it instead and nothing half-written or wrong is ever named.
 */
async function* verified(body: AsyncIterable<Uint8Array>, file: string, entry: FileEntry): AsyncIterable<Uint8Array> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > entry.size) throw new StoreError('DL_STORE', `${file}: more than the ${entry.size} bytes its manifest names; refused`);
    hash.update(chunk);
    yield chunk;
  }
  if (size !== entry.size) throw new StoreError('DL_STORE', `${file}: ${size} bytes, its manifest names ${entry.size}; refused`);
  const got = hash.digest('hex');
  if (got !== entry.sha256) throw new StoreError('DL_STORE', `${file}: sha256 ${got}, its manifest names ${entry.sha256}; refused`);
}

function isValidName(name: string): boolean {
  try {
    validateName(name);
    return true;
  } catch {
    return false;
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
