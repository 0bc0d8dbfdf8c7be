import { constants as fsConstants } from 'node:fs';
import { access, mkdir, mkdtemp, realpath, rm } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { resolveInRoot } from '../initramfs/root-path.js';
import { type InitrdBuilder, storeRootVersion } from './build-image.js';
import { type ChrootCommandRunner, spawnChrootCommand } from './chroot-command.js';
import { type MountTable, mountPointsUnder, readMountTable } from './chroot-mounts.js';
import { openChrootSession } from './chroot-session.js';
import { run } from '../process/run.js';
import type { ImageStore, Manifest, ShownVersion } from './store/image-store.js';
import { validateName } from './store/image-store.js';
import { DisklessError } from '../errors/diskless-error.js';

/** A shell refused before anything was unpacked: unknown image, not root, a tool missing. */
export class ImageShellError extends DisklessError {
  override name = 'ImageShellError';

  constructor(message: string) {
    super('DL_IMAGE_SHELL', message);
  }
}

export interface SignalSource {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
}

export interface ImageShellOptions {
  store: ImageStore;
  name: string;
  /** Default: the published version, else the newest. */
  version?: string;
  /** Run inside the image; absent or empty: an interactive login shell. */
  command?: readonly string[];
  /** Scratch space on the store's filesystem, so the new version's files are hard-linked in. */
  workDir: string;
  buildInitrd: InitrdBuilder;
  progress?: (msg: string) => void;
  /** unsquashfs, mount, umount. Default: `run` (src/process/run.ts). */
  runTool?: (argv: readonly string[]) => Promise<unknown>;
  /** `chroot ROOT COMMAND…`. Default: spawned with the terminal inherited. */
  runCommand?: ChrootCommandRunner;
  readMounts?: MountTable;
  hostResolvConf?: string;
  /** Default: this process. Tests pass an EventEmitter. */
  signals?: SignalSource;
  getuid?: () => number;
  /** Where the tools are looked for. Default $PATH. */
  searchPath?: string;
  /** The admin's $SHELL, used for an interactive session when the image has it. */
  shell?: string;
  /** TERM passed into the chroot. */
  term?: string;
}

interface ResultBase {
  name: string;
  /** The version the session started from. */
  from: string;
  /** Exit status for the CLI: the command's own when it failed, 128+N after signal N. */
  status: number;
  /** Problems met while cleaning up; the outcome stands. */
  warnings: string[];
}

export type ImageShellResult =
  | (ResultBase & { outcome: 'stored'; manifest: Manifest; /** The result equals a version stored before. */ alreadyStored: boolean })
  | (ResultBase & { outcome: 'unchanged' })
  | (ResultBase & { outcome: 'discarded'; reason: string });

const TOOLS = [['unsquashfs', 'squashfs-tools'], ['mksquashfs', 'squashfs-tools'], ['chroot', 'coreutils'], ['mount', 'mount'], ['umount', 'mount']] as const;
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const CHROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Unpacks a version of an image, runs a command (or a shell) chrooted in it with /proc, /sys and
 * /dev bound, and stores the tree as a new unpublished version (parent: the version it came
 * from) when the command exits 0. Otherwise nothing is stored. Mounts and the scratch directory
 * never outlive the call, whether it ends normally, by error or by signal.
 */
export async function imageShell(o: ImageShellOptions): Promise<ImageShellResult> {
  const from = await pickVersion(o.store, o.name, o.version);
  const uid = o.getuid ? o.getuid() : process.getuid?.();
  if (uid !== 0) throw new ImageShellError(`Cannot open a shell in image ${o.name}: chroot and bind mounts need root; run it as root`);
  for (const [tool, pkg] of TOOLS) {
    if (!(await onPath(tool, o.searchPath ?? process.env.PATH ?? ''))) throw new ImageShellError(`Cannot open a shell in image ${o.name}: ${tool} not found (Debian: apt-get install ${pkg})`);
  }

  const signals = watchSignals(o.signals ?? process);
  try {
    await mkdir(o.workDir, { recursive: true });
    // Canonical, because the mount table that proves nothing is left mounted prints canonical paths.
    const scratch = await realpath(await mkdtemp(join(o.workDir, `shell-${o.name}-`)));
    const result = await runSession(o, from, scratch, signals);
    result.warnings.push(...(await removeScratch(scratch, o.readMounts ?? readMountTable)));
    return result;
  } finally {
    signals.dispose();
  }
}

async function pickVersion(store: ImageStore, name: string, version: string | undefined): Promise<ShownVersion> {
  validateName(name);
  const image = (await store.list()).find((i) => i.name === name);
  if (!image) throw new ImageShellError(`Unknown image ${name} ("diskless image list" shows the images)`);
  const v = version ?? image.published ?? image.versions.at(-1)?.version;
  if (v === undefined) throw new ImageShellError(`Image ${name} has no versions`);
  return store.show(name, v);
}

async function runSession(o: ImageShellOptions, from: ShownVersion, scratch: string, signals: SignalWatch): Promise<ImageShellResult> {
  const base = { name: o.name, from: from.version, warnings: [] as string[] };
  const progress = o.progress ?? (() => {});
  const runTool = o.runTool ?? ((argv: readonly string[]) => run(argv));
  const root = join(scratch, 'root');
  let status: number | undefined;
  try {
    progress(`unpacking ${o.name}@${from.version}…`);
    await runTool(['unsquashfs', '-no-progress', '-dest', root, from.paths.rootSqfs]);
    signals.interrupted.throwIfAborted();
    const argv = o.command?.length ? [...o.command] : await loginShell(root, o.shell);
    const session = await openChrootSession(root, {
      saveDir: join(scratch, 'saved'),
      run: runTool,
      ...(o.readMounts ? { readMounts: o.readMounts } : {}),
      ...(o.hostResolvConf ? { hostResolvConf: o.hostResolvConf } : {}),
    });
    try {
      if (!o.command?.length) progress(`shell in ${o.name}@${from.version}: exit 0 to keep the changes as a new version, non-zero (e.g. "exit 1") to discard them`);
      const env = { PATH: CHROOT_PATH, HOME: '/root', LANG: 'C.UTF-8', TERM: o.term ?? 'dumb', DISKLESS_IMAGE: `${o.name}@${from.version}` };
      status = await signals.whileCommand((forward) => (o.runCommand ?? spawnChrootCommand())(['chroot', root, ...argv], { env, forward }));
    } finally {
      await session.close();
    }
    signals.interrupted.throwIfAborted();
    if (status !== 0) return { ...base, outcome: 'discarded', status, reason: `${argv.join(' ')} exited with status ${status}` };
    const known = new Set((await o.store.list()).find((i) => i.name === o.name)?.versions.map((m) => m.version));
    const r = await storeRootVersion({
      store: o.store,
      name: o.name,
      root,
      label: `${o.name}@${from.version}`,
      tmp: scratch,
      parent: from.version,
      unchangedSha256: from.manifest.sha256,
      buildInitrd: o.buildInitrd,
      progress,
      abort: signals.interrupted,
    });
    if (r.unchanged) return { ...base, outcome: 'unchanged', status: 0 };
    return { ...base, outcome: 'stored', status: 0, manifest: r.manifest, alreadyStored: known.has(r.manifest.version) };
  } catch (e) {
    const signal = signals.interrupted.aborted ? (signals.interrupted.reason as NodeJS.Signals) : undefined;
    return {
      ...base,
      outcome: 'discarded',
      status: signal ? 128 + osConstants.signals[signal] : status || 1,
      reason: signal ? `interrupted by ${signal}` : (e as Error).message,
    };
  }
}

/** The admin's own shell when the image has it, else /bin/sh; a login shell reads the image's profile. */
async function loginShell(root: string, shell: string | undefined): Promise<string[]> {
  if (shell?.startsWith('/')) {
    const r = await resolveInRoot(root, shell);
    if (r.ok && r.stats.isFile() && (r.stats.mode & 0o111) !== 0) return [shell, '-l'];
  }
  return ['/bin/sh', '-l'];
}

/** Removes the scratch tree, unless something is still mounted in it: rm would descend into the host's /dev. */
async function removeScratch(scratch: string, readMounts: MountTable): Promise<string[]> {
  const left = mountPointsUnder(scratch, await readMounts());
  if (left.length) return [`left ${scratch} in place because ${left.join(', ')} is still mounted; unmount it and remove the directory by hand`];
  await rm(scratch, { recursive: true, force: true });
  return [];
}

async function onPath(tool: string, searchPath: string): Promise<boolean> {
  for (const dir of searchPath.split(':').filter(Boolean)) {
    if (await access(join(dir, tool), fsConstants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

interface SignalWatch {
  /** Aborted (reason: the signal name) once the session must end without storing anything. */
  interrupted: AbortSignal;
  whileCommand<T>(fn: (forward: AbortSignal) => Promise<T>): Promise<T>;
  dispose(): void;
}

/**
 * Keeps this process alive through SIGINT, SIGTERM and SIGHUP so it can unmount and clean up.
 * While the command runs, SIGINT is left to it: it shares our terminal and got the same Ctrl-C,
 * which an interactive shell uses to clear its line; what counts is the status it exits with.
 * SIGTERM and SIGHUP are passed on to it and end the session.
 */
function watchSignals(source: SignalSource): SignalWatch {
  const interrupted = new AbortController();
  let forward: AbortController | undefined;
  const listeners = SIGNALS.map((sig) => {
    const listener = () => {
      if (forward && sig === 'SIGINT') return;
      forward?.abort(sig);
      if (!interrupted.signal.aborted) interrupted.abort(sig);
    };
    source.on(sig, listener);
    return [sig, listener] as const;
  });
  return {
    interrupted: interrupted.signal,
    async whileCommand(fn) {
      forward = new AbortController();
      try {
        return await fn(forward.signal);
      } finally {
        forward = undefined;
      }
    },
    dispose() {
      for (const [sig, listener] of listeners) source.off(sig, listener);
    },
  };
}
