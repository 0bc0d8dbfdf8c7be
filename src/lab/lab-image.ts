import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDebianRoot, SLIM_EXCLUDES } from '../images/debian-root.js';
import { makeSquashfs } from '../images/squashfs.js';
import { DigestCache } from '../files/digest-cache.js';
import { findKernel } from '../initramfs/kernel-version.js';

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
  include: ['systemd-sysv', 'udev', 'iproute2', 'kmod', 'linux-image-arm64'],
  exclude: [...SLIM_EXCLUDES, ...LAB_MODULE_EXCLUDES.map((d) => `/lib/modules/*/kernel/${d}/*`)],
  enable: [['systemd-networkd.service', 'multi-user.target'], ['systemd-networkd.socket', 'sockets.target']],
  version: 1,
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

export function labImageKey(recipe: LabRecipe = LAB_RECIPE): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

/**
 * Builds the lab's Debian image once and keeps it in the cache: rootfs, squashfs, kernel.
 * Built under a temporary name and renamed when complete, so an interrupted build is never
 * mistaken for a finished one.
 */
export async function ensureLabImage(cacheDir: string, progress: (msg: string) => void = () => {}, recipe: LabRecipe = LAB_RECIPE): Promise<LabImage> {
  const dir = join(cacheDir, 'images', `lab-${recipe.suite}${recipe.arch === undefined ? '' : `-${recipe.arch}`}-${labImageKey(recipe)}`);
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) {
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    try {
      progress(`building the lab image (Debian ${recipe.suite} with systemd and a kernel) with mmdebstrap; this happens once`);
      const t0 = Date.now();
      const rootfs = join(tmp, 'rootfs');
      await buildDebianRoot(rootfs, {
        suite: recipe.suite,
        include: recipe.include,
        exclude: recipe.exclude,
        ...(recipe.arch === undefined ? {} : { arch: recipe.arch }),
        onLine: (l) => { if (/^I: /.test(l)) progress(`  mmdebstrap: ${l.slice(3)}`); },
      });
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
      progress(`  squashfs (zstd) of the tree`);
      await makeSquashfs(rootfs, join(tmp, 'root.sqfs'));
      const sha256 = (await new DigestCache().sha256(join(tmp, 'root.sqfs')))!;
      await writeFile(join(tmp, 'manifest.json'), JSON.stringify({ recipe, kernelVersion: kernel.version, sha256, builtInMs: Date.now() - t0 }, null, 2));
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
      progress(`lab image ready in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${dir}`);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { kernelVersion: string; sha256: string };
  return { dir, rootfs: join(dir, 'rootfs'), squashfs: join(dir, 'root.sqfs'), sha256: manifest.sha256, kernel: join(dir, 'vmlinuz'), kernelVersion: manifest.kernelVersion };
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
