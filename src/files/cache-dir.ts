import { lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Where built things are cached (helpers, downloaded packages, lab images): DISKLESS_CACHE, else
 * /var/cache/diskless, the directory the service unit gives the server (CacheDirectory=).
 */
export function defaultCacheDir(): string {
  return process.env['DISKLESS_CACHE'] ?? '/var/cache/diskless';
}

/** The cache of programs that go into initrds: compiled helpers and other architectures' tools. */
export function defaultHelperCacheDir(): string {
  return join(defaultCacheDir(), 'helpers');
}

/**
 * Makes `dir` (mode 0700 when new) and checks that only this user can put files in it: a real
 * directory, not a symlink, owned by this user, writable by no group or other. What is cached there
 * runs on nodes as root, so a directory someone else made first (a shared /tmp name, say) is
 * refused rather than trusted.
 */
export async function ensurePrivateDir(dir: string): Promise<string> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new Error(`Cannot create the cache directory ${dir} (${e instanceof Error ? e.message : String(e)}); set DISKLESS_CACHE to a directory this user owns`);
  }
  const st = await lstat(dir);
  const uid = process.getuid?.();
  const problem = !st.isDirectory() ? 'is not a directory (a symlink or a file)'
    : uid !== undefined && st.uid !== uid ? `is owned by uid ${st.uid}, not this user (${uid})`
    : (st.mode & 0o022) !== 0 ? `is writable by others (mode ${(st.mode & 0o777).toString(8)})`
    : undefined;
  if (problem !== undefined) {
    throw new Error(`Refusing the cache directory ${dir}: it ${problem}, and what it holds goes into initrds; remove it or set DISKLESS_CACHE to a directory only this user can write`);
  }
  return dir;
}
