import { join } from 'node:path';
import { run } from '../process/run.js';
import { unpackedPackages } from '../initramfs/arch-packages.js';
import { pathExists } from '../files/path-exists.js';

/**
 * What an arm64 lab machine boots, taken from Debian's arm64 packages (this host is x86-64, so
 * none of them can be installed here): the Debian-signed kernel, a static arm64 busybox for its
 * tiny initramfs, and the signed chain (Microsoft-signed shim, Debian-signed GRUB network image).
 */
export interface Arm64Parts {
  /** The unpacked packages (merged /usr), the kernel's modules under lib/modules/VERSION. */
  root: string;
  kernelVersion: string;
  kernel: string;
  busybox: string;
  shim: string;
  grub: string;
}

/** The packages, by name; the kernel's is resolved from the linux-image-arm64 metapackage. */
const PACKAGES = ['busybox-static', 'shim-signed', 'grub-efi-arm64-signed'] as const;

/**
 * Downloads (apt-get download: no install, no maintainer scripts) and unpacks the arm64
 * packages once, into CACHE/arm64-HASH, named by a hash of the exact versions apt offers, so a new
 * kernel or shim gives a new directory (unpackedPackages). The kernel's module indexes, which its
 * package leaves to a maintainer script, are made with the host's depmod (it reads any
 * architecture's modules): our network initrd is built from that module tree. Needs
 * `dpkg --add-architecture arm64` and an apt-get update (scripts/install-deps.sh does both).
 */
export async function arm64Parts(cacheDir: string): Promise<Arm64Parts> {
  const kernelPackage = await kernelPackageName();
  const kernelVersion = kernelPackage.replace(/^linux-image-/, '');
  const u = await unpackedPackages({
    packages: [kernelPackage, ...PACKAGES].map((n) => `${n}:arm64`),
    cacheDir,
    prefix: 'arm64-parts',
    prepare: async (root) => { await run(['depmod', '-b', root, kernelVersion], { timeoutMs: 120_000 }); },
  });
  const parts: Arm64Parts = {
    root: u.root,
    kernelVersion,
    kernel: join(u.root, 'boot', `vmlinuz-${kernelVersion}`),
    busybox: join(u.root, 'bin/busybox'),
    shim: join(u.root, 'usr/lib/shim/shimaa64.efi.signed'),
    grub: join(u.root, 'usr/lib/grub/arm64-efi-signed/grubnetaa64.efi.signed'),
  };
  for (const f of [parts.kernel, parts.busybox, parts.shim, parts.grub]) {
    if (!(await pathExists(f))) throw new Error(`Cannot find ${f} in the unpacked arm64 packages (${u.versions.join(', ')})`);
  }
  return parts;
}

async function kernelPackageName(): Promise<string> {
  const { stdout } = await run(['apt-cache', 'depends', 'linux-image-arm64:arm64'], { timeoutMs: 60_000 });
  const m = /Depends: (linux-image-[0-9][^:\s]*-arm64)/.exec(stdout);
  if (!m) throw new Error('Cannot find the arm64 kernel package: apt knows no linux-image-arm64:arm64 (run scripts/install-deps.sh: it adds the arm64 architecture)');
  return m[1]!;
}

