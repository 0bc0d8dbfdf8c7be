import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePrivateDir } from '../files/cache-dir.js';
import { run } from '../process/run.js';
import type { CpuArch } from './arch.js';
import { resolveSharedLibraries } from './elf/shared-libraries.js';
import { pathExists } from '../files/path-exists.js';

export interface UnpackedPackages {
  /** The cache entry: `root` and the `versions` file. */
  dir: string;
  /** The packages' files, merged-/usr (bin, sbin, lib link into usr/), as an image has them. */
  root: string;
  /** "name:arch=version" of every package, the entry's key. */
  versions: string[];
}

/**
 * Debian packages of any architecture, downloaded (apt-get download: nothing installed, no
 * maintainer script run) and unpacked once into CACHE/PREFIX-HASH, the hash of the exact
 * versions apt offers, so a new version gives a new entry. `prepare` runs on the unpacked tree
 * before it is renamed into place: a crash or a concurrent run never leaves half an entry.
 * Foreign architectures need `dpkg --add-architecture ARCH` and an apt-get update
 * (scripts/install-deps.sh does both for arm64). `aptOptions` go to apt-get and apt-cache (e.g.
 * a private source list and lists directory, for another Debian release than the host's).
 */
export async function unpackedPackages(o: { packages: readonly string[]; cacheDir: string; prefix: string; prepare?: (root: string) => Promise<void>; aptOptions?: readonly string[] }): Promise<UnpackedPackages> {
  const apt = o.aptOptions ?? [];
  const versions = (await Promise.all([...new Set(o.packages)].map(async (n) => `${n}=${await candidateVersion(n, apt)}`))).sort();
  const dir = join(o.cacheDir, `${o.prefix}-${createHash('sha256').update(versions.join('\n')).digest('hex').slice(0, 16)}`);
  const out = { dir, root: join(dir, 'root'), versions };
  if (await pathExists(join(dir, 'versions'))) return out;
  await ensurePrivateDir(o.cacheDir);
  const tmp = `${dir}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(join(tmp, 'debs'), { recursive: true });
    await run(['apt-get', ...apt, 'download', '-q', ...versions], { cwd: join(tmp, 'debs'), timeoutMs: 600_000 });
    for (const deb of (await readdir(join(tmp, 'debs'))).sort()) {
      await run(['dpkg-deb', '-x', join(tmp, 'debs', deb), join(tmp, 'root')], { timeoutMs: 120_000 });
    }
    await rm(join(tmp, 'debs'), { recursive: true, force: true });
    await mergeUsr(join(tmp, 'root'));
    await o.prepare?.(join(tmp, 'root'));
    await writeFile(join(tmp, 'versions'), `${versions.join('\n')}\n`);
    await rename(tmp, dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e; // another run finished first
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return out;
}

/**
 * What usrmerge does to an installed system: /bin, /sbin and /lib become links into /usr, their
 * contents moved there. Packages unpacked by dpkg-deb keep the paths they ship (bookworm's libc6
 * /lib/aarch64-linux-gnu, libssl3 /usr/lib/aarch64-linux-gnu); merged, every path a merged image
 * or this host names (/usr/sbin/nbd-client, /sbin/blkid) finds its file.
 */
export async function mergeUsr(root: string): Promise<void> {
  for (const d of ['bin', 'sbin', 'lib']) {
    const top = join(root, d);
    const st = await lstat(top).catch(() => undefined);
    if (st !== undefined && !st.isDirectory()) continue;
    if (st !== undefined) {
      await mkdir(join(root, 'usr', d), { recursive: true });
      await moveInto(top, join(root, 'usr', d));
      await rm(top, { recursive: true });
    }
    await symlink(`usr/${d}`, top);
  }
}

async function moveInto(from: string, to: string): Promise<void> {
  for (const name of await readdir(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    const [s, t] = await Promise.all([lstat(src), lstat(dst).catch(() => undefined)]);
    if (t === undefined) await rename(src, dst);
    else if (s.isDirectory() && t.isDirectory()) await moveInto(src, dst);
    else throw new Error(`Cannot merge /usr: both ${src} and ${dst} exist`);
  }
}

/** The candidate version apt would install of one "name:arch". */
async function candidateVersion(pkg: string, aptOptions: readonly string[]): Promise<string> {
  const { stdout } = await run(['apt-cache', ...aptOptions, 'policy', pkg], { timeoutMs: 60_000 });
  const m = /Candidate: (\S+)/.exec(stdout);
  if (!m || m[1] === '(none)') throw new Error(`Cannot download ${pkg}: apt has no candidate (for arm64, run scripts/install-deps.sh: it adds the architecture)`);
  return m[1]!;
}

/**
 * The Debian packages holding these host files, without architecture ("libssl3", "openssl"),
 * asked of the host's dpkg. A path may be listed by its merged-/usr twin (/sbin/nbd-client for
 * /usr/sbin/nbd-client) or by the file a link leads to.
 */
export async function hostPackagesOf(files: readonly string[]): Promise<string[]> {
  const toggle = (p: string): string => (p.startsWith('/usr/') ? p.slice(4) : `/usr${p}`);
  const candidates = await Promise.all(files.map(async (f) => {
    const real = await realpath(f).catch(() => f);
    return [...new Set([f, toggle(f), real, toggle(real)])];
  }));
  const { stdout } = await run(['dpkg-query', '-S', ...new Set(candidates.flat())], { check: false, timeoutMs: 60_000 });
  const owner = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^([^\s:,]+)(?::[a-z0-9]+)?: (\/.*)$/.exec(line);
    if (m) owner.set(m[2]!, m[1]!);
  }
  return [...new Set(files.map((f, i) => {
    const pkg = candidates[i]!.map((c) => owner.get(c)).find((p) => p !== undefined);
    if (pkg === undefined) throw new Error(`Cannot tell which Debian package holds ${f} (dpkg -S knows none of ${candidates[i]!.join(', ')})`);
    return pkg;
  }))].sort();
}

/** What `buildInitramfs` takes from another architecture's packages instead of from this host. */
export interface ArchTools {
  /** A merged-/usr tree holding the tools and their libraries, for `hostRoot`. */
  root: string;
  /** That architecture's static busybox (busybox-static). */
  busybox: string;
  versions: string[];
}

/**
 * The host tools an initrd carries (nbd-client, openssl, …), for another architecture: the
 * same Debian packages that hold them and their shared libraries on this host, in `arch`,
 * with busybox-static, unpacked once under CACHE/tools-ARCH-HASH.
 */
export async function archTools(arch: CpuArch, tools: readonly string[], cacheDir: string): Promise<ArchTools> {
  const files: string[] = [];
  for (const t of tools) {
    files.push(t);
    const libs = await resolveSharedLibraries('/', t);
    if (libs.missing.length > 0 || libs.errors.length > 0) throw new Error(`Cannot find the libraries of ${t} on this host: ${[...libs.missing.map((m) => m.soname), ...libs.errors].join(', ')}`);
    for (const f of libs.files) if (f.kind === 'file') files.push(f.hostPath);
  }
  const packages = [...(await hostPackagesOf(files)), 'busybox-static'].map((p) => `${p}:${arch}`);
  const u = await unpackedPackages({ packages, cacheDir, prefix: `tools-${arch}` });
  return { root: u.root, busybox: join(u.root, 'bin/busybox'), versions: u.versions };
}

