import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostDebianMirror } from '../images/apt-mirror.js';
import { bindMounts, unmountAllUnder } from '../images/chroot-mounts.js';
import { onExitCleanup } from '../process/exit-cleanup.js';
import { run, runSyncForExitHook, type RunOptions, type RunResult } from '../process/run.js';

/**
 * A fresh Debian system to install the package into, as an admin's new boot server is: minbase
 * and systemd (whose systemd-analyze checks the unit against the installed files), with its apt
 * lists kept so `apt install ./diskless_*.deb` resolves the package's dependencies from the mirror.
 */
export const CHROOT_RECIPE = { suite: 'bookworm', variant: 'minbase', include: ['systemd'], version: 2 } as const;

/** The cached tarball of the fresh system, made by mmdebstrap once per recipe and mirror. */
export async function ensureDebianChrootTar(cacheDir: string, progress: (msg: string) => void = () => {}): Promise<string> {
  const mirror = hostDebianMirror();
  const key = createHash('sha256').update(JSON.stringify({ ...CHROOT_RECIPE, mirror })).digest('hex').slice(0, 16);
  const tar = join(cacheDir, 'chroots', `${CHROOT_RECIPE.suite}-${CHROOT_RECIPE.variant}-${key}.tar`);
  if (existsSync(tar)) return tar;
  await mkdir(join(cacheDir, 'chroots'), { recursive: true });
  progress(`making a fresh Debian ${CHROOT_RECIPE.suite} (${CHROOT_RECIPE.variant}) with mmdebstrap; this happens once`);
  const tmp = `${tar}.${process.pid}.tmp.tar`;
  try {
    await run(['mmdebstrap', `--variant=${CHROOT_RECIPE.variant}`, `--include=${CHROOT_RECIPE.include.join(',')}`, '--mode=root', '--format=tar', '--skip=cleanup/apt/lists', CHROOT_RECIPE.suite, tmp, mirror]);
    await rename(tmp, tar);
  } finally {
    await rm(tmp, { force: true });
  }
  return tar;
}

/**
 * The Node.js running this program as a Debian package named `nodejs`, for a fresh system whose
 * own repositories hold an older Node: an admin installs Node 20 from NodeSource the same way.
 * Cached by the binary's hash.
 */
export async function nodejsDebFromThisNode(cacheDir: string): Promise<string> {
  const binary = await readFile(process.execPath);
  const key = createHash('sha256').update(binary).digest('hex').slice(0, 16);
  const version = process.versions.node;
  const deb = join(cacheDir, 'debs', `nodejs_${version}-lab-${key}_amd64.deb`);
  if (existsSync(deb)) return deb;
  await mkdir(join(cacheDir, 'debs'), { recursive: true });
  const stage = await mkdtemp(join(tmpdir(), 'diskless-nodejs-deb-'));
  try {
    await chmod(stage, 0o755);
    await mkdir(join(stage, 'usr/bin'), { recursive: true });
    await mkdir(join(stage, 'DEBIAN'));
    await copyFile(process.execPath, join(stage, 'usr/bin/node'));
    await chmod(join(stage, 'usr/bin/node'), 0o755);
    await writeFile(join(stage, 'DEBIAN/control'), [
      'Package: nodejs',
      `Version: ${version}-lab`,
      'Architecture: amd64',
      'Maintainer: Diskless lab <lab@localhost>',
      'Depends: libc6, libstdc++6, libgcc-s1',
      `Description: Node.js ${version} (the binary the lab runs, packaged for a test system)`,
      '',
    ].join('\n'));
    const tmp = `${deb}.${process.pid}.tmp`;
    await run(['dpkg-deb', '--root-owner-group', '-Zgzip', '-z1', '--build', stage, tmp]);
    await rename(tmp, deb);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  return deb;
}

/**
 * A fresh Debian system unpacked into a temporary directory, with /proc, /sys and /dev bound in,
 * for installing and running the package as on a real server. Commands run in it with chroot;
 * destroy() unmounts and removes everything (an exit hook does it if the process dies first).
 */
export class PackageRoot {
  #destroyed = false;
  readonly #unregister: () => void;

  private constructor(readonly dir: string) {
    this.#unregister = onExitCleanup(() => {
      for (const sub of ['dev/pts', 'dev', 'sys', 'proc', 'var/cache/apt/archives']) runSyncForExitHook(['umount', '--lazy', join(dir, sub)]);
    });
  }

  /** Unpacks `tar`; `aptArchives` (a host directory) keeps downloaded packages across runs. */
  static async create(tar: string, opts: { aptArchives?: string } = {}): Promise<PackageRoot> {
    const dir = await mkdtemp(join(tmpdir(), 'diskless-pkgroot-'));
    const root = new PackageRoot(dir);
    try {
      await chmod(dir, 0o755);
      await run(['tar', '-xpf', tar, '--numeric-owner', '-C', dir]);
      // Name resolution for apt, as the host has it.
      await copyFile('/etc/resolv.conf', join(dir, 'etc/resolv.conf')).catch(() => undefined);
      const binds = [
        { source: '/proc', target: join(dir, 'proc') },
        { source: '/sys', target: join(dir, 'sys') },
        { source: '/dev', target: join(dir, 'dev') },
        { source: '/dev/pts', target: join(dir, 'dev/pts') },
      ];
      if (opts.aptArchives !== undefined) {
        await mkdir(join(opts.aptArchives, 'partial'), { recursive: true });
        binds.push({ source: opts.aptArchives, target: join(dir, 'var/cache/apt/archives') });
      }
      await bindMounts(binds, dir, run);
    } catch (e) {
      await root.destroy();
      throw e;
    }
    return root;
  }

  /** Runs argv inside the system (chroot); `env` replaces the environment (default: a clean one). */
  exec(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    if (this.#destroyed) return Promise.reject(new Error(`Cannot run in ${this.dir}: destroyed`));
    return run(['chroot', this.dir, ...argv], { env: options.env ?? cleanEnv(), ...options });
  }

  /**
   * The argv that runs `argv` inside the system from within a lab namespace (`ip netns exec`).
   * The system's /sys is the host's, bound at create(): it lists the host's interfaces, not the
   * namespace's, so the namespace's own /sys (which `ip netns exec` mounted) is bound over it
   * first, in the command's private mount namespace.
   */
  chrootArgvInNamespace(argv: readonly string[]): string[] {
    return ['sh', '-c', 'mount --bind /sys "$1/sys" && exec chroot "$@"', 'sh', this.dir, ...argv];
  }

  /**
   * Copies host packages into the system and installs them as an admin does (apt install ./x.deb),
   * dependencies from the mirror. Recommends are left out unless asked for: they are the image
   * building tools, minutes of downloads that prove nothing about the server.
   */
  async aptInstall(debs: readonly string[], options: RunOptions & { recommends?: boolean } = {}): Promise<RunResult> {
    await mkdir(join(this.dir, 'root/debs'), { recursive: true });
    const inside: string[] = [];
    for (const d of debs) {
      const name = `${randomBytes(3).toString('hex')}-${d.split('/').at(-1)!}`;
      await copyFile(d, join(this.dir, 'root/debs', name));
      inside.push(`/root/debs/${name}`);
    }
    return this.exec(['apt-get', 'install', '-y', '-q', ...(options.recommends === true ? [] : ['--no-install-recommends']), ...inside], { env: { ...cleanEnv(), DEBIAN_FRONTEND: 'noninteractive' }, ...options });
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await unmountAllUnder(this.dir, run);
    await rm(this.dir, { recursive: true, force: true });
    this.#unregister();
  }
}

/** What a root login shell has, nothing of ours (no DISKLESS_CONFIG leaking in from a test run). */
function cleanEnv(): NodeJS.ProcessEnv {
  return { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8' };
}
