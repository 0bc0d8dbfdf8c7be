import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDebianRoot, SLIM_EXCLUDES } from '../images/debian-root.js';
import { makeSquashfs } from '../images/squashfs.js';
import { DigestCache } from '../files/digest-cache.js';
import { findKernel } from '../initramfs/kernel-version.js';
import { run } from '../process/run.js';
import { arm64Parts, type Arm64Parts } from './arm64-parts.js';

/** What the lab builds an image from: a Debian suite, its packages and what dpkg leaves out. */
export interface LabRecipe {
  readonly suite: string;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  /** systemd units enabled in the tree, each with the target that wants it. */
  readonly enable?: readonly (readonly [unit: string, target: string])[];
  /** Bumped when the recipe's meaning changes without its words changing, to rebuild caches. */
  readonly version: number;
  /** Debian architecture; this host's when absent (another one builds through qemu-user). */
  readonly arch?: string;
  /**
   * unpacked: the kernel is not installed by apt but unpacked into the tree from Debian's arm64
   * packages (arm64Parts: the signed kernel and its modules, indexed by the host's depmod), with
   * LAB_MODULE_EXCLUDES left out. Installing linux-image under qemu-user runs its maintainer
   * scripts and depmod emulated, minutes on a loaded host, for a tree that ends the same.
   */
  readonly kernel?: 'unpacked';
  /** zstd level of the squashfs (default makeSquashfs's). A low one compresses many times faster. */
  readonly squashfsLevel?: number;
}

/** Kernel module trees no diskless lab node uses (GPU, sound, wireless, …): a third of the
 * image and of every live download. Network drivers all stay: one initrd, any NIC. */
const LAB_MODULE_EXCLUDES = ['drivers/gpu', 'sound', 'drivers/media', 'drivers/infiniband', 'drivers/iio', 'drivers/staging', 'drivers/net/wireless',
  'drivers/comedi', 'drivers/bluetooth', 'net/bluetooth', 'drivers/isdn', 'drivers/mtd'];

/** The lab's Debian: the smallest system that boots systemd to a login prompt from our server. */
export const LAB_RECIPE: LabRecipe = {
  suite: 'bookworm',
  // openssl: a TLS client an unprivileged user on a node can run, as the security tests' attacker does.
  include: ['systemd-sysv', 'udev', 'iproute2', 'kmod', 'linux-image-amd64', 'openssh-server', 'openssl'],
  // Kernel module trees no diskless lab node uses (GPU, sound, wireless, …): a third of the
  // image and of every live download. Network drivers all stay: one initrd, any NIC.
  // dpkg matches the paths packages ship (/lib/modules), not the merged-/usr target.
  exclude: [...SLIM_EXCLUDES, ...LAB_MODULE_EXCLUDES.map((d) => `/lib/modules/*/kernel/${d}/*`)],
  // systemd-networkd runs, as on images whose network it configures: the initramfs hands it
  // the boot interface, and it renews the lease for as long as the node runs.
  enable: [['systemd-networkd.service', 'multi-user.target'], ['systemd-networkd.socket', 'sockets.target']],
  version: 4,
};

/**
 * The arm64 lab image: Debian bookworm for arm64, built on this x86 host through qemu-user
 * (binfmt_misc), the smallest system that boots systemd to a login prompt.
 */
export const ARM64_RECIPE: LabRecipe = {
  suite: 'bookworm',
  arch: 'arm64',
  include: ['systemd-sysv', 'udev', 'iproute2', 'kmod'],
  exclude: SLIM_EXCLUDES,
  kernel: 'unpacked',
  enable: [['systemd-networkd.service', 'multi-user.target'], ['systemd-networkd.socket', 'sockets.target']],
  squashfsLevel: 3,
  version: 3,
};

/**
 * Debian 13 for the distribution tests: kernel 6.12 with .ko.xz modules, shipped under
 * /usr/lib/modules (trixie's packages moved into /usr). Only what boots to a login prompt.
 */
export const TRIXIE_RECIPE: LabRecipe = {
  suite: 'trixie',
  // network-manager: its package enables NetworkManager.service, so the initramfs hands the
  // boot interface to NetworkManager, which renews the lease; a boot that masks the unit on its
  // command line (systemd.mask=NetworkManager.service) runs no network manager and gets the
  // lease keeper instead.
  include: ['systemd-sysv', 'udev', 'iproute2', 'kmod', 'linux-image-amd64', 'network-manager'],
  exclude: [...SLIM_EXCLUDES, ...LAB_MODULE_EXCLUDES.flatMap((d) => [`/lib/modules/*/kernel/${d}/*`, `/usr/lib/modules/*/kernel/${d}/*`])],
  version: 1,
};

export interface LabImage {
  dir: string;
  /** The image tree (exported over NFS). */
  rootfs: string;
  /** zstd squashfs of the tree (live and NBD roots). */
  squashfs: string;
  sha256: string;
  kernel: string;
  kernelVersion: string;
}

/** The cache key of a recipe's image; `inputs` name what else went in (the unpacked kernel's cache entry). */
export function labImageKey(recipe: LabRecipe = LAB_RECIPE, inputs: readonly string[] = []): string {
  const h = createHash('sha256').update(JSON.stringify(recipe));
  for (const i of inputs) h.update(`\0${i}`);
  return h.digest('hex').slice(0, 16);
}

/**
 * Builds the lab's Debian image once and keeps it in the cache: rootfs, squashfs, kernel.
 * Built under a temporary name and renamed when complete, so an interrupted build is never
 * mistaken for a finished one.
 */
export async function ensureLabImage(cacheDir: string, progress: (msg: string) => void = () => {}, recipe: LabRecipe = LAB_RECIPE): Promise<LabImage> {
  const parts = recipe.kernel === 'unpacked' ? await unpackedKernelParts(recipe, cacheDir) : undefined;
  const dir = join(cacheDir, 'images', `lab-${recipe.suite}${recipe.arch === undefined ? '' : `-${recipe.arch}`}-${labImageKey(recipe, parts ? [parts.root] : [])}`);
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) {
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    try {
      progress(`building the lab image (Debian ${recipe.suite} with systemd and a kernel) with mmdebstrap; this happens once`);
      const t0 = Date.now();
      const phases: Record<string, number> = {};
      let phaseStart = t0;
      const phase = (name: string) => { const now = Date.now(); phases[name] = now - phaseStart; phaseStart = now; };
      const rootfs = join(tmp, 'rootfs');
      await buildDebianRoot(rootfs, {
        suite: recipe.suite,
        include: recipe.include,
        exclude: recipe.exclude,
        ...(recipe.arch === undefined ? {} : { arch: recipe.arch }),
        onLine: (l) => { if (/^I: /.test(l)) progress(`  mmdebstrap: ${l.slice(3)}`); },
      });
      phase('mmdebstrapMs');
      if (parts) {
        await unpackKernel(parts, rootfs);
        phase('kernelMs');
      }
      for (const [unit, target] of recipe.enable ?? []) {
        // What `systemctl enable` does, without running systemctl in the tree.
        await mkdir(join(rootfs, 'etc/systemd/system', `${target}.wants`), { recursive: true });
        await symlink(`/lib/systemd/system/${unit}`, join(rootfs, 'etc/systemd/system', `${target}.wants`, unit));
      }
      // A lab node logs in as root without a password on its console: test images only.
      const shadow = join(rootfs, 'etc/shadow');
      await writeFile(shadow, (await readFile(shadow, 'utf8')).replace(/^root:[^:]*:/m, 'root::'));
      await writeFile(join(rootfs, 'etc/hostname'), 'diskless\n');
      // Host keys made at package install would be shared by every node booting the image;
      // each node gets its own from the server at boot instead, the same at every boot.
      for (const n of await readdir(join(rootfs, 'etc/ssh')).catch(() => [])) if (n.startsWith('ssh_host_')) await rm(join(rootfs, 'etc/ssh', n));
      // initramfs-tools made an initrd for a local disk boot; a diskless node never uses it.
      for (const n of await readdir(join(rootfs, 'boot'))) if (n.startsWith('initrd.img-')) await rm(join(rootfs, 'boot', n));
      const kernel = await findKernel(rootfs);
      await copyFile(kernel.hostPath, join(tmp, 'vmlinuz'));
      // The server hands the node its kernel; a copy in a live root would be fetched into every
      // node's RAM for nothing (a third of the arm64 image). Unpacked kernels only: an installed
      // package's files stay as dpkg knows them.
      if (parts) await rm(kernel.hostPath);
      progress(`  squashfs (zstd) of the tree`);
      await makeSquashfs(rootfs, join(tmp, 'root.sqfs'), recipe.squashfsLevel === undefined ? {} : { level: recipe.squashfsLevel });
      phase('squashfsMs');
      const sha256 = (await new DigestCache().sha256(join(tmp, 'root.sqfs')))!;
      await writeFile(join(tmp, 'manifest.json'), JSON.stringify({ recipe, kernelVersion: kernel.version, sha256, builtInMs: Date.now() - t0, phases }, null, 2));
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
      progress(`lab image ready in ${((Date.now() - t0) / 1000).toFixed(0)} s (${Object.entries(phases).map(([k, v]) => `${k.replace(/Ms$/, '')} ${(v / 1000).toFixed(0)} s`).join(', ')}): ${dir}`);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { kernelVersion: string; sha256: string };
  return { dir, rootfs: join(dir, 'rootfs'), squashfs: join(dir, 'root.sqfs'), sha256: manifest.sha256, kernel: join(dir, 'vmlinuz'), kernelVersion: manifest.kernelVersion };
}

async function unpackedKernelParts(recipe: LabRecipe, cacheDir: string): Promise<Arm64Parts> {
  if (recipe.arch !== 'arm64') throw new Error(`lab recipe ${recipe.suite}/${recipe.arch ?? 'host'}: an unpacked kernel comes from Debian's arm64 packages only`);
  return arm64Parts(cacheDir);
}

/**
 * Debian's arm64 kernel and its modules put into the tree as its package would have (/boot, the
 * /lib/modules), without the module trees no lab node uses; the module indexes are
 * made again by the host's depmod for what is left, so none names a missing file.
 */
async function unpackKernel(parts: Arm64Parts, rootfs: string): Promise<void> {
  const v = parts.kernelVersion;
  // /lib/modules: a link into /usr on a merged system, the directory itself on another.
  const modules = join(rootfs, 'lib/modules', v);
  await mkdir(join(rootfs, 'lib/modules'), { recursive: true });
  await cp(join(parts.root, 'usr/lib/modules', v), modules, {
    recursive: true,
    filter: (src) => !LAB_MODULE_EXCLUDES.some((d) => src === join(parts.root, 'usr/lib/modules', v, 'kernel', d)),
  });
  await mkdir(join(rootfs, 'boot'), { recursive: true });
  for (const n of await readdir(join(parts.root, 'boot'))) if (n.endsWith(`-${v}`)) await copyFile(join(parts.root, 'boot', n), join(rootfs, 'boot', n));
  await run(['depmod', '-b', rootfs, v], { timeoutMs: 120_000 });
}

/**
 * A second version of the lab image, different from the first only by /etc/diskless-variant:
 * for publishing a new version under running nodes. Cached beside the image.
 */
export async function ensureLabImageVariant(image: LabImage, progress: (msg: string) => void = () => {}): Promise<string> {
  const out = join(image.dir, 'root-variant.sqfs');
  if (!existsSync(out)) {
    progress('building a second version of the lab image (adds /etc/diskless-variant)');
    await makeSquashfs(image.rootfs, out, { pseudo: ['etc/diskless-variant f 644 root root echo variant-2'] });
  }
  return out;
}
