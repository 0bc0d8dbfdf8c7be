import { access, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { run } from '../process/run.js';

/**
 * What an arm64 lab machine boots, taken from Debian's arm64 packages (this host is x86-64, so
 * none of them can be installed here): the Debian-signed kernel, a static arm64 busybox for its
 * tiny initramfs, and the signed chain (Microsoft-signed shim, Debian-signed GRUB network image).
 */
export interface Arm64Parts {
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
 * kernel or shim gives a new directory. Needs `dpkg --add-architecture arm64` and an apt-get
 * update (scripts/install-deps.sh does both).
 */
export async function arm64Parts(cacheDir: string): Promise<Arm64Parts> {
  const kernelPackage = await kernelPackageName();
  const names = [kernelPackage, ...PACKAGES].map((n) => `${n}:arm64`);
  const versions = await Promise.all(names.map(async (n) => `${n}=${await candidateVersion(n)}`));
  const dir = join(cacheDir, `arm64-${createHash('sha256').update(versions.join('\n')).digest('hex').slice(0, 16)}`);
  const parts: Arm64Parts = {
    kernel: join(dir, 'root/boot', `vmlinuz-${kernelPackage.replace(/^linux-image-/, '')}`),
    busybox: join(dir, 'root/bin/busybox'),
    shim: join(dir, 'root/usr/lib/shim/shimaa64.efi.signed'),
    grub: join(dir, 'root/usr/lib/grub/arm64-efi-signed/grubnetaa64.efi.signed'),
  };
  if (await exists(join(dir, 'versions'))) return parts;
  await mkdir(cacheDir, { recursive: true });
  // Unpacked aside and renamed into place: a crash or a concurrent run never leaves half a tree.
  const tmp = `${dir}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(join(tmp, 'debs'), { recursive: true });
    await run(['apt-get', 'download', '-q', ...versions], { cwd: join(tmp, 'debs'), timeoutMs: 600_000 });
    for (const deb of await readdir(join(tmp, 'debs'))) {
      await run(['dpkg-deb', '-x', join(tmp, 'debs', deb), join(tmp, 'root')], { timeoutMs: 120_000 });
    }
    await rm(join(tmp, 'debs'), { recursive: true, force: true });
    await writeFile(join(tmp, 'versions'), `${versions.join('\n')}\n`);
    await rename(tmp, dir).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e; // another run finished first
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  for (const f of Object.values(parts)) {
    if (!(await exists(f))) throw new Error(`Cannot find ${f} in the unpacked arm64 packages (${versions.join(', ')})`);
  }
  return parts;
}

async function kernelPackageName(): Promise<string> {
  const { stdout } = await run(['apt-cache', 'depends', 'linux-image-arm64:arm64'], { timeoutMs: 60_000 });
  const m = /Depends: (linux-image-[0-9][^:\s]*-arm64)/.exec(stdout);
  if (!m) throw new Error('Cannot find the arm64 kernel package: apt knows no linux-image-arm64:arm64 (run scripts/install-deps.sh: it adds the arm64 architecture)');
  return m[1]!;
}

async function candidateVersion(pkg: string): Promise<string> {
  const { stdout } = await run(['apt-cache', 'policy', pkg], { timeoutMs: 60_000 });
  const m = /Candidate: (\S+)/.exec(stdout);
  if (!m || m[1] === '(none)') throw new Error(`Cannot download ${pkg}: apt has no candidate (run scripts/install-deps.sh: it adds the arm64 architecture)`);
  return m[1]!;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
