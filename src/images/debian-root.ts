import { mkdir, readFile, rm } from 'node:fs/promises';
import { run } from '../process/run.js';
import { ARCH_TOOLS, hostArch, isCpuArch } from '../initramfs/arch.js';
import { hostDebianMirror } from './apt-mirror.js';

export interface DebianRootOptions {
  suite: string;
  /** Packages beyond minbase. */
  include: readonly string[];
  /** Default: the mirror this host's apt uses (hostDebianMirror). */
  mirror?: string;
  /** dpkg path-exclude globs: docs, man pages, unneeded kernel module trees. */
  exclude?: readonly string[];
  /**
   * Debian architecture of the root ("arm64"); default this host's. Another architecture's
   * maintainer scripts run under qemu-user through binfmt_misc (foreignArchProblem).
   */
  arch?: string;
  onLine?: (line: string) => void;
}

/** Docs and translations nobody reads on a diskless node: smaller image, faster boots. */
export const SLIM_EXCLUDES = ['/usr/share/doc/*', '/usr/share/man/*', '/usr/share/info/*', '/usr/share/locale/*'];

/**
 * Why this host cannot run `arch`'s programs (undefined when it can): mmdebstrap runs the
 * image's maintainer scripts, and for another architecture the kernel hands them to qemu-user
 * through a binfmt_misc entry, which must be there, enabled, and fix the interpreter at
 * registration (flag F) so it is found inside the chroot.
 */
export async function foreignArchProblem(arch: string, binfmtDir = '/proc/sys/fs/binfmt_misc'): Promise<string | undefined> {
  if (arch === hostArch()) return undefined;
  // Only architectures the network initrd can be built for.
  if (!isCpuArch(arch)) return `architecture ${arch} is not supported (one of: ${Object.keys(ARCH_TOOLS).join(', ')})`;
  const entry = ARCH_TOOLS[arch].binfmt;
  const howTo = `apt-get install qemu-user-static binfmt-support; mount -t binfmt_misc binfmt_misc ${binfmtDir}; update-binfmts --enable ${entry}`;
  const text = await readFile(`${binfmtDir}/${entry}`, 'utf8').catch(() => undefined);
  if (text === undefined) return `this ${hostArch()} host cannot run ${arch} programs: binfmt_misc has no ${entry} entry (${howTo})`;
  if (!/^enabled$/m.test(text)) return `this ${hostArch()} host cannot run ${arch} programs: the binfmt_misc entry ${entry} is disabled (${howTo})`;
  if (!/^flags: \S*F/m.test(text)) return `the binfmt_misc entry ${entry} lacks flag F, so its interpreter is not found inside the image's chroot (register it as qemu-user-static does: ${howTo})`;
  return undefined;
}

/**
 * update-initramfs diverted to /bin/true while packages are installed, and put back after: a
 * diskless image boots our network initrd, never the one initramfs-tools would make for a
 * local disk, and making that one under qemu-user (another architecture) takes minutes.
 */
const SKIP_INITRAMFS_HOOKS = [
  '--essential-hook=chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs && ln -s /bin/true "$1/usr/sbin/update-initramfs"',
  '--customize-hook=rm -f "$1/usr/sbin/update-initramfs" && chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs',
];

/**
 * Another architecture's root gets its merged /usr as debootstrap makes it (/bin, /sbin, /lib
 * linked into /usr before any package is unpacked) instead of from the usrmerge package, which
 * pulls perl into the image and runs its conversion under qemu-user: minutes of emulated perl
 * for the same tree. On this host's architecture the package's way costs seconds and is kept.
 */
const MERGED_USR_BY_LINKS = ['--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr'];

/**
 * A Debian root filesystem in `dir`, built by mmdebstrap (as root: real uids, device nodes).
 * The directory is replaced whole; on failure nothing is left behind.
 */
export async function buildDebianRoot(dir: string, o: DebianRootOptions): Promise<void> {
  const arch = o.arch ?? hostArch();
  const problem = await foreignArchProblem(arch);
  if (problem !== undefined) throw new Error(`Cannot build a Debian ${arch} root: ${problem}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const dpkgopts = (o.exclude ?? SLIM_EXCLUDES).map((g) => `--dpkgopt=path-exclude=${g}`);
  try {
    await run(
      [
        'mmdebstrap', '--variant=minbase', '--mode=root', '--format=directory', `--architectures=${arch}`,
        ...(o.include.length ? [`--include=${o.include.join(',')}`] : []),
        ...SKIP_INITRAMFS_HOOKS,
        ...(arch === hostArch() ? [] : MERGED_USR_BY_LINKS),
        ...dpkgopts,
        o.suite, dir, o.mirror ?? hostDebianMirror(),
      ],
      // Debian's own programs first: mmdebstrap runs its helpers (mmtarfilter, once per
      // package) through `env python3`, and a python3 shim earlier in PATH (pyenv's) costs
      // about a second per start on a loaded host, minutes per image.
      { env: { ...process.env, PATH: `/usr/sbin:/usr/bin:/sbin:/bin:${process.env['PATH'] ?? ''}` }, ...(o.onLine ? { onLine: o.onLine } : {}) },
    );
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
