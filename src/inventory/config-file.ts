import { randomBytes } from 'node:crypto';
import { open, readFile, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface EditFileOptions {
  /** How long to wait for another editor's lock before giving up. */
  lockTimeoutMs?: number;
}

// A lock file with no pid yet belongs to a writer between open and write; only after this long
// is it taken for the leftover of a crash in that gap.
const EMPTY_LOCK_GRACE_MS = 2000;

/**
 * Read-modify-write of the config under an exclusive lock, so concurrent editors (CLI, API)
 * never lose each other's changes, and a rename so readers (`serve` reloading) see the old file
 * or the new one, never half of one. `edit` may throw: the file is then left untouched.
 * Returns the text now in the file.
 */
export async function editConfigFile(path: string, edit: (text: string) => string | Promise<string>, options: EditFileOptions = {}): Promise<string> {
  // Through a symlink, the rename must replace the target, not the link.
  const file = await realpath(path);
  const release = await acquireLock(`${file}.lock`, options.lockTimeoutMs ?? 5000);
  try {
    const before = await readFile(file, 'utf8');
    const after = await edit(before);
    if (after !== before) await replaceFile(file, after);
    return after;
  } finally {
    await release();
  }
}

async function replaceFile(file: string, text: string): Promise<void> {
  const { mode } = await stat(file);
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode & 0o7777);
  try {
    await fh.writeFile(text, 'utf8');
    // open()'s mode passes through the umask; the config must keep exactly its old permissions.
    await fh.chmod(mode & 0o7777);
    await fh.sync();
    await fh.close();
    await rename(tmp, file);
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  // The rename itself is only durable once the directory entry is.
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(lock: string): Promise<{ pid: number | undefined; ageMs: number } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(lock, 'utf8'), stat(lock)]);
    const pid = /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
    return { pid, ageMs: Date.now() - st.mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function isStale(holder: { pid: number | undefined; ageMs: number }): boolean {
  return holder.pid === undefined ? holder.ageMs > EMPTY_LOCK_GRACE_MS : !alive(holder.pid);
}

async function acquireLock(lock: string, timeoutMs: number): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await open(lock, 'wx', 0o644);
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      return () => unlink(lock).catch(() => {});
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await readLock(lock);
    if (holder && isStale(holder)) {
      await breakStaleLock(lock);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder?.pid !== undefined ? `pid ${holder.pid}` : 'another process';
      throw new Error(`${lock.slice(0, -'.lock'.length)} is being edited by ${who} (lock ${lock}); gave up after ${Math.round(timeoutMs / 1000)} s. If that process is gone, remove the lock file.`);
    }
    await sleep(10 + Math.random() * 40);
  }
}

/**
 * Two waiters may both see the same dead pid; without this second lock the slower one could
 * delete the fresh lock the faster one's successor just made. The re-check under it settles that.
 */
async function breakStaleLock(lock: string): Promise<void> {
  const breaker = `${lock}.break`;
  let fh;
  try {
    fh = await open(breaker, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // A breaker killed mid-way must not block everyone forever.
    const st = await stat(breaker).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > 10_000) await rm(breaker, { force: true });
    await sleep(10);
    return;
  }
  try {
    const holder = await readLock(lock);
    if (holder && isStale(holder)) await rm(lock, { force: true });
  } finally {
    await fh.close();
    await rm(breaker, { force: true });
  }
}
