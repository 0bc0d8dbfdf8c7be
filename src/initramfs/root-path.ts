import { lstat, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';

/**
 * Paths inside an image root. An image's symlinks are written for the image, not the host:
 * `/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/…` is absolute, and following it with
 * the host's own resolution would read the host's loader instead of the image's. So links are
 * resolved by hand, with "/" and ".." pinned to the root.
 */

/** A symlink met on the way, as it must also appear in the archive for the path to work there. */
export interface RootLink {
  /** Absolute path inside the root ("/lib64"). */
  path: string;
  target: string;
}

export type RootResolution =
  | { ok: true; path: string; hostPath: string; stats: Stats; links: RootLink[] }
  | { ok: false; error: string; links: RootLink[] };

// Linux gives up after 40 links (ELOOP); a loop in an image must not hang the build.
const MAX_LINKS = 40;

export function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

/** `path` (absolute inside `root`) with every symlink followed, the last one too. */
export async function resolveInRoot(root: string, path: string): Promise<RootResolution> {
  const pending = splitPath(path);
  const resolved: string[] = [];
  const links: RootLink[] = [];
  let followed = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const inRoot = '/' + [...resolved, part].join('/');
    let stats: Stats;
    try {
      stats = await lstat(join(root, inRoot));
    } catch (e) {
      return { ok: false, error: `${inRoot}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, links };
    }
    if (!stats.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if (++followed > MAX_LINKS) return { ok: false, error: `${path}: too many levels of symbolic links`, links };
    const target = await readlink(join(root, inRoot));
    if (!links.some((l) => l.path === inRoot)) links.push({ path: inRoot, target });
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...splitPath(target));
  }
  const finalPath = '/' + resolved.join('/');
  const hostPath = join(root, finalPath);
  try {
    return { ok: true, path: finalPath, hostPath, stats: await lstat(hostPath), links };
  } catch (e) {
    return { ok: false, error: `${finalPath}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, links };
  }
}
