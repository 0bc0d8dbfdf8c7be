import { lstat, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DisklessError } from '../errors/diskless-error.js';
import { resolveInRoot } from './root-path.js';

/**
 * Which kernel an image boots, and where its file and its modules are. Distributions lay them
 * out differently:
 *   Debian, Ubuntu, SUSE    /boot/vmlinuz-VERSION, modules in /lib/modules/VERSION
 *   Fedora, RHEL, Rocky     /usr/lib/modules/VERSION/vmlinuz (a container or dnf --installroot
 *                           may have no /boot at all)
 *   Arch                    /boot/vmlinuz-linux (-lts, -zen …: named by package, not version),
 *                           and /usr/lib/modules/VERSION/{vmlinuz,pkgbase}
 * A kernel counts only with its own modules (modules.dep) beside it: a node must never boot a
 * kernel with another kernel's modules, and the initrd is built from them.
 */

/** Where modules may live; /usr/lib/modules alone on a tree whose /lib is not a link to usr/lib. */
export const MODULE_DIRS = ['/lib/modules', '/usr/lib/modules'] as const;

/** A kernel an image can boot. */
export interface ImageKernel {
  /** As `uname -r` will say it: the name of its modules directory. */
  version: string;
  /** The kernel file inside the root, as found ("/boot/vmlinuz-6.1.0-9-amd64"). */
  path: string;
  /** The kernel file on the host, every symlink resolved inside the root. */
  hostPath: string;
  /** Its modules directory inside the root, as found ("/lib/modules/6.1.0-9-amd64"). */
  modulesDir: string;
}

/** No kernel to boot, or several to choose from without a rule that picks one. */
export class KernelChoiceError extends DisklessError {
  override name = 'KernelChoiceError';

  constructor(message: string) {
    super('DL_NO_KERNEL', message);
  }
}

/** The places findKernels looks, for messages. */
export const KERNEL_LAYOUTS =
  '/boot/vmlinuz-VERSION, /usr/lib/modules/VERSION/vmlinuz, /lib/modules/VERSION/vmlinuz, and /boot/vmlinuz-NAME or /boot/vmlinuz ' +
  '(version from the file\'s own header or the modules\' pkgbase), each with VERSION/modules.dep under /lib/modules or /usr/lib/modules';

/** The numbers of "6.1.0-56-amd64": [6, 1, 0, 56]; the flavour after them does not order kernels. */
function versionNumbers(v: string): number[] {
  const m = /^[\d.\-+~]+/.exec(v);
  return (m?.[0] ?? '').split(/[.\-+~]/).filter((p) => p !== '').map(Number);
}

export function compareKernelVersions(a: string, b: string): number {
  const x = versionNumbers(a);
  const y = versionNumbers(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** Newest first; equal numbers (two flavours) in name order so the listing is stable. */
function newestFirst(a: string, b: string): number {
  return compareKernelVersions(b, a) || (a < b ? -1 : a > b ? 1 : 0);
}

const SAFE_VERSION = /^[A-Za-z0-9._+~-]{1,128}$/;

/** Module directories that depmod has indexed: version → path inside the root. */
async function moduleDirs(root: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const base of MODULE_DIRS) {
    const where = await resolveInRoot(root, base);
    if (!where.ok || !where.stats.isDirectory()) continue;
    for (const name of (await readdir(where.hostPath)).sort()) {
      // The first base wins: on a merged-/usr tree both name the same directory.
      if (found.has(name) || !SAFE_VERSION.test(name)) continue;
      const dep = await resolveInRoot(root, `${base}/${name}/modules.dep`);
      // A directory without modules.dep (leftover "build" links, a removed kernel) is no choice.
      if (dep.ok && dep.stats.isFile()) found.set(name, `${base}/${name}`);
    }
  }
  return found;
}

/** Kernel versions of an image: directories under /lib/modules or /usr/lib/modules that depmod has indexed, newest first. */
export async function listKernelVersions(root: string): Promise<string[]> {
  return [...(await moduleDirs(root)).keys()].sort(newestFirst);
}

/** The modules directory of `version` inside the root ("/lib/modules/V" or "/usr/lib/modules/V"), if depmod indexed it. */
export async function modulesDirOf(root: string, version: string): Promise<string | undefined> {
  return (await moduleDirs(root)).get(version);
}

/**
 * The release string an x86 bzImage carries: the boot protocol header ("HdrS" at 0x202, version
 * 2.00 or later) points at it from 0x20E, 0x200 bytes on ("6.12.48+deb13-amd64 (debian-kernel@…)
 * #1 SMP …"); its first word is what `uname -r` prints. Undefined for anything else (an arm64
 * Image, a compressed EFI zboot image, a test's fake file).
 */
export function bzImageVersion(head: Uint8Array): string | undefined {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.length < 0x210 || b.toString('latin1', 0x202, 0x206) !== 'HdrS' || b.readUInt16LE(0x206) < 0x200) return undefined;
  const at = b.readUInt16LE(0x20e) + 0x200;
  if (at >= b.length) return undefined;
  const end = b.indexOf(0, at);
  const text = b.toString('latin1', at, end < 0 ? Math.min(b.length, at + 256) : end);
  const release = text.split(' ')[0] ?? '';
  return SAFE_VERSION.test(release) ? release : undefined;
}

async function fileVersion(hostPath: string): Promise<string | undefined> {
  const f = await open(hostPath, 'r');
  try {
    // The string sits in the setup code, within its first 32 KiB (setup_sects ≤ 64 sectors).
    const buf = Buffer.alloc(0x8000);
    const { bytesRead } = await f.read(buf, 0, buf.length, 0);
    return bzImageVersion(buf.subarray(0, bytesRead));
  } finally {
    await f.close();
  }
}

/** Arch's /usr/lib/modules/VERSION/pkgbase names the package ("linux", "linux-lts") the kernel came from. */
async function pkgbaseVersions(root: string, dirs: Map<string, string>, pkgbase: string): Promise<string[]> {
  const out: string[] = [];
  for (const [version, dir] of dirs) {
    const p = await resolveInRoot(root, `${dir}/pkgbase`);
    if (!p.ok || !p.stats.isFile() || p.stats.size > 256) continue;
    if ((await readFile(p.hostPath, 'utf8')).trim() === pkgbase) out.push(version);
  }
  return out;
}

export interface KernelSurvey {
  /** Kernels with their modules, newest first. */
  kernels: ImageKernel[];
  /** What was seen but cannot boot: kernel files without modules, modules without a kernel. */
  strays: string[];
}

/** Every kernel of the image (see the layouts above), and what was found that is not one. */
export async function findKernels(root: string): Promise<KernelSurvey> {
  const dirs = await moduleDirs(root);
  const byVersion = new Map<string, ImageKernel>();
  const strays: string[] = [];
  const add = (version: string, path: string, hostPath: string): void => {
    const modulesDir = dirs.get(version);
    if (modulesDir === undefined) {
      strays.push(`${path} (kernel ${version}, but no modules.dep for it)`);
      return;
    }
    // The first place wins for a version: /boot, then the modules directory.
    if (!byVersion.has(version)) byVersion.set(version, { version, path, hostPath, modulesDir });
  };
  const kernelFile = async (path: string): Promise<string | undefined> => {
    // Resolved inside the root, so an absolute symlink in the image never picks the host's kernel.
    const k = await resolveInRoot(root, path);
    return k.ok && k.stats.isFile() ? k.hostPath : undefined;
  };

  const boot = await resolveInRoot(root, '/boot');
  const bootNames = boot.ok && boot.stats.isDirectory() ? (await readdir(boot.hostPath)).sort() : [];
  for (const name of bootNames) {
    if (name !== 'vmlinuz' && !name.startsWith('vmlinuz-')) continue;
    const path = `/boot/${name}`;
    const hostPath = await kernelFile(path);
    if (hostPath === undefined) continue;
    // A link ("vmlinuz -> vmlinuz-6.1.0-9-amd64", or into /usr/lib/modules) names a kernel found
    // under its own name too; one that says no more is passed over quietly.
    const isLink = (await lstat(join(root, path))).isSymbolicLink();
    const suffix = name.slice('vmlinuz-'.length);
    // The file's own header is the truth where it has one; then its name; then Arch's pkgbase.
    const own = await fileVersion(hostPath);
    if (own !== undefined) {
      add(own, path, hostPath);
      continue;
    }
    if (name !== 'vmlinuz' && dirs.has(suffix)) {
      add(suffix, path, hostPath);
      continue;
    }
    const viaPkgbase = name === 'vmlinuz' ? [] : await pkgbaseVersions(root, dirs, suffix);
    if (viaPkgbase.length === 1) add(viaPkgbase[0]!, path, hostPath);
    else if (name !== 'vmlinuz' && SAFE_VERSION.test(suffix) && /^\d/.test(suffix)) add(suffix, path, hostPath);
    else if (!isLink) strays.push(`${path} (its version is neither in its header nor in a modules directory's pkgbase)`);
  }
  for (const [version, dir] of dirs) {
    const path = `${dir}/vmlinuz`;
    const hostPath = await kernelFile(path);
    if (hostPath !== undefined) add(version, path, hostPath);
  }
  for (const [version, dir] of dirs) if (!byVersion.has(version)) strays.push(`${dir} (modules for ${version}, but no kernel file)`);
  const kernels = [...byVersion.values()].sort((a, b) => newestFirst(a.version, b.version));
  return { kernels, strays };
}

/**
 * The kernel to boot: the one named, else the only one, the one the image's /vmlinuz link names
 * (Debian's kernel packages keep it on the newest), or the newest. Two flavours of one version
 * ("-amd64" and "-cloud-amd64") are ambiguous: an initrd with the wrong flavour's modules fails
 * at the first modprobe, so the caller must name one.
 */
export async function findKernel(root: string, wanted?: string): Promise<ImageKernel> {
  const { kernels, strays } = await findKernels(root);
  const seen = strays.length > 0 ? `; found only ${strays.join('; ')}` : '; found none of them';
  if (kernels.length === 0) throw new KernelChoiceError(`Cannot find a kernel in ${root}: looked for ${KERNEL_LAYOUTS}${seen}`);
  if (wanted !== undefined) {
    const k = kernels.find((x) => x.version === wanted);
    if (k === undefined) throw new KernelChoiceError(`Cannot find kernel ${wanted} in ${root}: it has ${kernels.map((x) => x.version).join(', ')}`);
    return k;
  }
  if (kernels.length === 1) return kernels[0]!;
  for (const link of ['/vmlinuz', '/boot/vmlinuz']) {
    const where = await resolveInRoot(root, link);
    if (!where.ok || where.links.length === 0) continue;
    const k = kernels.find((x) => x.path === where.path || where.path === `/boot/vmlinuz-${x.version}`);
    if (k !== undefined) return k;
  }
  const [newest, second] = kernels;
  if (compareKernelVersions(newest!.version, second!.version) > 0) return newest!;
  throw new KernelChoiceError(`Cannot choose a kernel in ${root}: it has ${kernels.map((x) => x.version).join(', ')}; name one (--kernel VERSION)`);
}

/**
 * The kernel an initramfs is for when none is named: findKernel's choice; for a tree with
 * modules but no kernel file (a module tree kept apart from its kernel), the same rules over the
 * module directories.
 */
export async function chooseKernelVersion(root: string): Promise<string> {
  const survey = await findKernels(root);
  if (survey.kernels.length > 0) return (await findKernel(root)).version;
  const versions = await listKernelVersions(root);
  if (versions.length === 0) {
    throw new KernelChoiceError(`Cannot choose a kernel: no /lib/modules/VERSION/modules.dep or /usr/lib/modules/VERSION/modules.dep in ${root} (the image needs a kernel package)`);
  }
  if (versions.length === 1) return versions[0]!;
  const [newest, second] = versions;
  if (compareKernelVersions(newest!, second!) > 0) return newest!;
  throw new KernelChoiceError(`Cannot choose a kernel: ${root} has modules for ${versions.join(', ')}; name one`);
}
