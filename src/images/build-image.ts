import { copyFile, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildNetworkInitrd } from '../initramfs/network-initrd.js';
import { findKernel, type ImageKernel, KernelChoiceError } from '../initramfs/kernel-version.js';
import type { RootMode } from '../config/types.js';
import { buildDebianRoot, foreignArchProblem } from './debian-root.js';
import { run } from '../process/run.js';
import { makeSquashfs } from './squashfs.js';
import { sha256File } from '../files/digest-cache.js';
import { type ImageSource, type ImageStore, type Manifest, validateName } from './store/image-store.js';
import { DisklessError } from '../errors/diskless-error.js';

/** A build refused for a reason the user can fix (no kernel, unreadable source). */
export class ImageBuildError extends DisklessError {
  override name = 'ImageBuildError';

  constructor(message: string) {
    super('DL_IMAGE_BUILD', message);
  }
}

export interface InitrdBuildRequest {
  root: string;
  kernelVersion: string;
  output: string;
  /** Bytes of the archive written so far, of about `total`. */
  onProgress?: (done: number, total: number) => void;
}

/** What an initrd build reports back: its kernel, and the root modes its modules allow (all when not said). */
export type InitrdBuilder = (req: InitrdBuildRequest) => Promise<{ kernelVersion: string; rootModes?: RootMode[] }>;

export interface BuildImageOptions {
  store: ImageStore;
  name: string;
  /** A root directory (used as is), a tar archive of one, or "mmdebstrap:SUITE". */
  from: string;
  /** Packages for mmdebstrap; a kernel package is not added for the user. */
  include?: readonly string[];
  /** mmdebstrap only: the Debian architecture of the image ("arm64"); default this host's. */
  arch?: string;
  /** The kernel version to boot when the tree has several; default: findKernel's choice. */
  kernel?: string;
  progress?: (msg: string) => void;
  /**
   * Scratch space for the root tree, squashfs and initrd; removed afterwards. On the store's
   * filesystem the results are hard-linked into the store instead of copied.
   */
  workDir: string;
  /** networkInitrdBuilder(the servers' certificates); tests give one that needs no module tree. */
  buildInitrd: InitrdBuilder;
  /** The initrd step's byte count, for a progress bar. */
  initrdProgress?: (done: number, total: number) => void;
}

const MMDEBSTRAP = 'mmdebstrap:';
const SUITE_RE = /^[a-z][a-z0-9.-]{0,63}$/;

/** The network initrd from the image's own modules, carrying the boot servers' certificates (PEM). */
export function networkInitrdBuilder(serverCerts: string): InitrdBuilder {
  return async ({ root, kernelVersion, output, onProgress }) => {
    const s = await buildNetworkInitrd({ root, kernelVersion, output, serverCerts, ...(onProgress ? { onProgress } : {}) });
    return { kernelVersion: s.kernelVersion, rootModes: s.rootModes };
  };
}

export interface StoreRootOptions {
  store: ImageStore;
  name: string;
  /** The finished root tree; only read. */
  root: string;
  /** Names the source in progress lines and errors: the --from argument, or NAME@VERSION. */
  label: string;
  /** Where root.sqfs, vmlinuz and initrd.img are written; the caller removes it. */
  tmp: string;
  parent: string | null;
  /**
   * sha256 of the root.sqfs the tree came from: when the new squashfs is identical, neither an
   * initrd nor a version is made, since the version id would be that of the source.
   */
  unchangedSha256?: string;
  buildInitrd: InitrdBuilder;
  /** The kernel version to boot when the tree has several; default: findKernel's choice. */
  kernel?: string;
  /** Recorded in the manifest: where an imported tree came from. */
  source?: ImageSource;
  progress?: (msg: string) => void;
  initrdProgress?: (done: number, total: number) => void;
  /** Checked before each step, so an interrupted caller stops before storing anything. */
  abort?: AbortSignal;
}

export type StoreRootResult = { unchanged: true } | { unchanged: false; manifest: Manifest };

/**
 * Builds root.sqfs, kernel and initrd from `from` and stores them as a new, unpublished version
 * of `name`; its parent is what is published when the root is ready.
 */
export async function buildImage(o: BuildImageOptions): Promise<Manifest> {
  validateName(o.name);
  await mkdir(o.workDir, { recursive: true });
  const tmp = await mkdtemp(join(resolve(o.workDir), `build-${o.name}-`));
  try {
    const root = await prepareRoot(o, tmp, timedStep(o.progress));
    const parent = (await o.store.list()).find((s) => s.name === o.name)?.published ?? null;
    const r = await storeRootVersion({
      store: o.store,
      name: o.name,
      root,
      label: o.from,
      tmp,
      parent,
      buildInitrd: o.buildInitrd,
      ...(o.kernel !== undefined ? { kernel: o.kernel } : {}),
      ...(o.progress ? { progress: o.progress } : {}),
      ...(o.initrdProgress ? { initrdProgress: o.initrdProgress } : {}),
    });
    if (r.unchanged) throw new Error('unreachable: no unchangedSha256 was given');
    return r.manifest;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The second half of a build, shared with `image shell`: squashfs, kernel and initrd of a root tree, stored unpublished. */
export async function storeRootVersion(o: StoreRootOptions): Promise<StoreRootResult> {
  validateName(o.name);
  const step = timedStep(o.progress, o.abort);
  const kernel = await imageKernel(o.root, o.name, o.label, o.kernel, o.source !== undefined);
  const squashfs = join(o.tmp, 'root.sqfs');
  const hostKeys = await imageHostKeys(o.root);
  if (hostKeys.length > 0) {
    o.progress?.(`leaving out ${hostKeys.map((k) => `/etc/ssh/${k}`).join(', ')}: every node would share them, and anyone who can fetch the image could read the private keys; each node gets its own from the server at boot (diskless secrets)`);
  }
  await step(`squashfs of ${o.label}`, () => makeSquashfs(o.root, squashfs, { exclude: HOST_KEY_EXCLUDES }));
  if (o.unchangedSha256 !== undefined && (await sha256File(squashfs)) === o.unchangedSha256) return { unchanged: true };
  const initrd = join(o.tmp, 'initrd.img');
  const built = await step(`initrd for kernel ${kernel.version}`, () =>
    o.buildInitrd({ root: o.root, kernelVersion: kernel.version, output: initrd, ...(o.initrdProgress ? { onProgress: o.initrdProgress } : {}) }),
  );
  if (built.kernelVersion !== kernel.version) {
    // A node must never boot a kernel with another kernel's modules.
    throw new ImageBuildError(`Cannot build image ${o.name}: initrd is for kernel ${built.kernelVersion}, not ${kernel.version}`);
  }
  const cannot = (['nbd', 'nfs'] as const).filter((m) => built.rootModes !== undefined && !built.rootModes.includes(m));
  if (cannot.length > 0) {
    o.progress?.(`note: kernel ${kernel.version} lacks the modules for ${cannot.join(' and ')} roots: profiles with root mode ${cannot.join(' or ')} will refuse this version`);
  }
  // Copied out of the root: a DIR source is the user's and may change or vanish after the build.
  const vmlinuz = join(o.tmp, 'vmlinuz');
  await copyFile(kernel.hostPath, vmlinuz);
  const manifest = await step(`storing ${o.name}`, () =>
    o.store.addVersion(o.name, {
      squashfs,
      kernel: vmlinuz,
      initrd,
      kernelVersion: kernel.version,
      ...(built.rootModes ? { rootModes: built.rootModes } : {}),
      ...(o.source ? { source: o.source } : {}),
      // Nothing else holds these temp files, so linking them into the store is safe.
      link: true,
      ...(o.parent ? { parent: o.parent } : {}),
    }),
  );
  return { unchanged: false, manifest };
}

/** The tree's kernel, or a refusal that says what was looked for and how to get one. */
export async function imageKernel(root: string, name: string, label: string, wanted?: string, imported = false): Promise<ImageKernel> {
  try {
    return await findKernel(root, wanted);
  } catch (e) {
    if (!(e instanceof KernelChoiceError)) throw e;
    const message = e.message.replace(root, label);
    const none = wanted === undefined && message.startsWith('Cannot find a kernel');
    throw new ImageBuildError(
      `Cannot build image ${name}: ${message}` +
        (!none ? '' : imported
          ? '; a network-booted image needs a kernel: take one with its modules from a stored image, a tree or a .deb with --kernel-from'
          : '; a network-booted image needs a kernel: include a kernel package (e.g. --include linux-image-amd64), or import a userland with --kernel-from (diskless image import)'),
    );
  }
}

/**
 * SSH host keys made when openssh-server was installed. The image is served to any machine on
 * the boot LAN (HTTP, NBD), so its private keys are not secret and every node would share them;
 * the source tree (possibly the admin's own directory) is left as it is, they are only kept out
 * of the squashfs.
 */
const HOST_KEY_EXCLUDES = ['etc/ssh/ssh_host_*'];

async function imageHostKeys(root: string): Promise<string[]> {
  const names = await readdir(join(root, 'etc/ssh')).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith('ssh_host_')).sort();
}

type Step = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

function timedStep(progress: ((msg: string) => void) | undefined, abort?: AbortSignal): Step {
  return async (what, fn) => {
    abort?.throwIfAborted();
    const started = Date.now();
    progress?.(`${what}…`);
    const r = await fn();
    progress?.(`${what}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return r;
  };
}

async function prepareRoot(
  o: BuildImageOptions,
  tmp: string,
  step: Step,
): Promise<string> {
  if (o.from.startsWith(MMDEBSTRAP)) {
    const suite = o.from.slice(MMDEBSTRAP.length);
    if (!SUITE_RE.test(suite)) throw new ImageBuildError(`Invalid suite ${JSON.stringify(suite)} in --from ${o.from} (e.g. mmdebstrap:bookworm)`);
    const root = join(tmp, 'root');
    if (o.arch !== undefined) {
      const problem = await foreignArchProblem(o.arch);
      if (problem !== undefined) throw new ImageBuildError(`Cannot build image ${o.name} for ${o.arch}: ${problem}`);
    }
    await step(`mmdebstrap ${suite}${o.arch === undefined ? '' : ` (${o.arch})`}`, () => buildDebianRoot(root, { suite, include: o.include ?? [], ...(o.arch === undefined ? {} : { arch: o.arch }), onLine: (l) => o.progress?.(`  ${l}`) }));
    return root;
  }
  if (o.include?.length) throw new ImageBuildError('--include only applies to --from mmdebstrap:SUITE');
  // A tree or tar has its architecture already: the initrd follows its kernel's.
  if (o.arch !== undefined) throw new ImageBuildError('--arch only applies to --from mmdebstrap:SUITE (a tree or tar is built for the architecture of its kernel)');
  const src = resolve(o.from);
  const st = await stat(src).catch(() => undefined);
  if (!st) throw new ImageBuildError(`Cannot build image ${o.name}: ${o.from} does not exist`);
  if (st.isDirectory()) return src;
  if (!st.isFile()) throw new ImageBuildError(`Cannot build image ${o.name}: ${o.from} is neither a directory nor a tar file`);
  const root = join(tmp, 'root');
  await mkdir(root);
  // Numeric owners: the image's uids must survive even where this host's names map differently.
  await step(`extracting ${o.from}`, () => run(['tar', '-xpf', src, '--numeric-owner', '-C', root]));
  return root;
}
