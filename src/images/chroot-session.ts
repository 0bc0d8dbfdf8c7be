import { lstat, mkdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isCode } from '../files/error-code.js';
import { resolveInRoot, splitPath } from '../initramfs/root-path.js';
import { bindMounts, type MountRunner, type MountTable, readMountTable, unmountAllUnder } from './chroot-mounts.js';

export interface ChrootSessionOptions {
  /** Scratch space on the same filesystem as `root` but outside it, for the image's own files set aside. */
  saveDir: string;
  run: MountRunner;
  readMounts?: MountTable;
  /** The resolver configuration copied in so apt can reach its mirror. Default /etc/resolv.conf. */
  hostResolvConf?: string;
}

export interface ChrootSession {
  /** Undoes everything in reverse order; throws after trying all steps if any failed. */
  close(): Promise<void>;
}

/**
 * Debian's hook asked before any service is started by a package's maintainer scripts; 101 means
 * "not allowed", so an install inside the chroot does not start daemons that would hold the
 * mounts busy (and run on the build host).
 */
export const POLICY_RC_D = '#!/bin/sh\n# Added by "diskless image shell" for the duration of the session.\nexit 101\n';

/**
 * Turns an unpacked image root into something a package manager can run in: /proc, /sys, /dev and
 * /dev/pts bound, the host's resolv.conf and a policy-rc.d in place. Everything it changes in the
 * tree is put back on close, so a session that changed nothing else leaves identical content.
 */
export async function openChrootSession(root: string, o: ChrootSessionOptions): Promise<ChrootSession> {
  const undo: Array<() => Promise<void>> = [];
  const close = async () => {
    const errors: string[] = [];
    for (const step of undo.splice(0).reverse()) await step().catch((e: unknown) => errors.push((e as Error).message));
    if (errors.length) throw new Error(`Cannot restore the image tree: ${errors.join('; ')}`);
  };
  try {
    await mkdir(o.saveDir, { recursive: true });
    const mountPoints = [];
    for (const p of ['/proc', '/sys', '/dev']) mountPoints.push({ source: p, target: await ensureDirInRoot(root, p, undo) });
    const dev = mountPoints[2]!.target;
    const hostResolv = await readFile(o.hostResolvConf ?? '/etc/resolv.conf').catch(() => undefined);
    if (hostResolv) await replaceFile(join(await ensureDirInRoot(root, '/etc', undo), 'resolv.conf'), hostResolv, 0o644, join(o.saveDir, 'resolv.conf'), undo);
    await replaceFile(join(await ensureDirInRoot(root, '/usr/sbin', undo), 'policy-rc.d'), POLICY_RC_D, 0o755, join(o.saveDir, 'policy-rc.d'), undo);
    // ROOT/dev/pts is the host's own /dev/pts directory once /dev is bound, so it always exists.
    const binds = [...mountPoints, { source: '/dev/pts', target: join(dev, 'pts') }];
    const readMounts = o.readMounts ?? readMountTable;
    undo.push(() => unmountAllUnder(root, o.run, readMounts));
    await bindMounts(binds, root, o.run, readMounts);
  } catch (e) {
    await close().catch(() => {});
    throw e;
  }
  return { close };
}

/**
 * The host path of directory `path` inside `root`, creating missing parts (removed again on undo,
 * if still empty). Symlinks are followed inside the root, never out of it: a mount onto an image's
 * absolute symlink would otherwise land on the host.
 */
async function ensureDirInRoot(root: string, path: string, undo: Array<() => Promise<void>>): Promise<string> {
  let host = root;
  let inRoot = '';
  for (const part of splitPath(path)) {
    const r = await resolveInRoot(root, `${inRoot}/${part}`);
    if (r.ok) {
      if (!r.stats.isDirectory()) throw new Error(`Cannot prepare the image for chroot: ${inRoot}/${part} is not a directory`);
      host = r.hostPath;
      inRoot = r.path === '/' ? '' : r.path;
      continue;
    }
    const dir = join(host, part);
    await mkdir(dir, { mode: 0o755 });
    undo.push(() => rmdir(dir).catch((e: unknown) => (isCode(e, 'ENOTEMPTY') || isCode(e, 'ENOENT') ? undefined : Promise.reject(e))));
    host = dir;
    inRoot = `${inRoot}/${part}`;
  }
  return host;
}

/** Puts `content` at `path` for the session; the image's own entry (file, symlink or nothing) returns on undo. */
async function replaceFile(path: string, content: string | Buffer, mode: number, aside: string, undo: Array<() => Promise<void>>): Promise<void> {
  const had = await lstat(path).then(() => true, (e: unknown) => (isCode(e, 'ENOENT') ? false : Promise.reject(e)));
  if (had) await rename(path, aside);
  undo.push(async () => {
    // Whatever the session left there goes, ours or a replacement a package wrote.
    await rm(path, { force: true });
    if (had) await rename(aside, path);
  });
  // "wx": never through a symlink someone put there in the meantime.
  await writeFile(path, content, { mode, flag: 'wx' });
}
