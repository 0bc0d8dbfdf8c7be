import { open, readFile, rm, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { isCode } from './error-code.js';

// A lock file with no pid yet belongs to a writer between open and write; only after this long
// is it taken for the leftover of a crash in that gap.
const EMPTY_LOCK_GRACE_MS = 2000;

/** Whether a process exists (EPERM: it does, but belongs to someone else). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return isCode(e, 'EPERM');
  }
}

async function readLock(lock: string): Promise<{ pid: number | undefined; ageMs: number } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(lock, 'utf8'), stat(lock)]);
    const pid = /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
    return { pid, ageMs: Date.now() - st.mtimeMs };
  } catch (e) {
    if (isCode(e, 'ENOENT')) return undefined;
    throw e;
  }
}

function isStale(holder: { pid: number | undefined; ageMs: number }): boolean {
  return holder.pid === undefined ? holder.ageMs > EMPTY_LOCK_GRACE_MS : !alive(holder.pid);
}

/**
 * An exclusive lock between processes: a file made with O_EXCL holding the owner's pid. A lock
 * whose owner is dead is broken; `busy` says what the lock protects, for the timeout message.
 */
export async function acquireLock(lock: string, timeoutMs: number, busy: string): Promise<() => Promise<void>> {
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
      if (!isCode(e, 'EEXIST')) throw e;
    }
    const holder = await readLock(lock);
    if (holder && isStale(holder)) {
      await breakStaleLock(lock);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder?.pid !== undefined ? `pid ${holder.pid}` : 'another process';
      throw new Error(`${busy} by ${who} (lock ${lock}); gave up after ${Math.round(timeoutMs / 1000)} s. If that process is gone, remove the lock file.`);
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
    if (!isCode(e, 'EEXIST')) throw e;
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
