import { constants, promises as fs } from 'node:fs';
import { sep } from 'node:path';

/** A regular file opened once: everything served from it comes from this descriptor. */
export interface OpenedFile {
  readonly handle: fs.FileHandle;
  /** From the descriptor (fstat), not from an earlier look at the path. */
  readonly size: number;
  readonly mtime: Date;
  /**
   * Which file this descriptor holds, from fstat: device, inode, size, mtime and ctime. A file
   * renamed over the path, rewritten or touched since has another identity (ctime moves on every
   * change and cannot be set back), so caches keyed by it never serve the old file's bytes.
   */
  readonly identity: string;
}

/** Why a file was not opened; servers map the reason onto their own refusals. */
export interface OpenFileRefusal {
  readonly ok: false;
  readonly reason: 'not-found' | 'not-a-file' | 'denied';
  readonly error: string;
}

export type OpenFileResult = { readonly ok: true; readonly file: OpenedFile } | OpenFileRefusal;

export interface OpenFileOptions {
  /**
   * A root directory, already a realpath, that `path` was checked to lie in (by realpath, so
   * `path` is itself a real path). The check and the open are two steps, and a user who can
   * write below the root could swap a name in between; so the file is opened with O_NOFOLLOW
   * (a final component that became a symlink fails with ELOOP) and the opened descriptor's own
   * location, read back from /proc/self/fd, must still lie inside the root (a parent directory
   * that became a symlink is caught there). Without it the path is opened as given, symlinks
   * followed: paths an admin configured are trusted as they are.
   */
  readonly confinedTo?: string;
}

/**
 * Opens `path` read-only, once, and checks on the descriptor that it is a regular file. Never
 * throws for file system errors: they come back as a refusal with its reason.
 */
export async function openRegularFile(path: string, options: OpenFileOptions = {}): Promise<OpenFileResult> {
  const root = options.confinedTo;
  let handle: fs.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO planted among the served files must not hang the server.
    const flags = constants.O_RDONLY | constants.O_NONBLOCK | (root === undefined ? 0 : constants.O_NOFOLLOW);
    handle = await fs.open(path, flags);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, reason: 'not-found', error: `Cannot open ${path}: ${code}` };
    return { ok: false, reason: 'denied', error: `Cannot open ${path}: ${code ?? String(e)}` };
  }
  const refuse = async (reason: 'not-a-file' | 'denied', error: string): Promise<OpenFileResult> => {
    await handle.close().catch(() => {});
    return { ok: false, reason, error };
  };
  if (root !== undefined) {
    const where = await fs.readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
    const prefix = root.endsWith(sep) ? root : root + sep;
    // Unreadable (no /proc) counts as outside: confinement that cannot be checked is refused.
    if (where === undefined || !where.startsWith(prefix)) {
      return refuse('denied', `Cannot serve ${path}: opened ${where ?? 'an unknown location'}, outside ${root}`);
    }
  }
  const stat = await handle.stat().catch(() => undefined);
  if (!stat?.isFile()) return refuse('not-a-file', `Cannot serve ${path}: not a regular file`);
  const identity = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
  return { ok: true, file: { handle, size: stat.size, mtime: stat.mtime, identity } };
}

/**
 * Reads `length` bytes at `offset` from the descriptor, fewer only at the end of the file.
 * A file truncated since it was opened therefore comes up short, which callers report.
 */
export async function readAt(handle: fs.FileHandle, offset: number, length: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(out, filled, length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return out.subarray(0, filled);
}
