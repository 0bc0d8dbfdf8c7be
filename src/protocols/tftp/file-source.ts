import { constants, promises as fs } from 'node:fs';

/**
 * What a transfer reads from: a size known up front (for tsize and the final-block rule) and
 * random-access reads, so a file of any size streams without being loaded whole.
 */
export interface FileSource {
  readonly size: number;
  /** Must return exactly `length` bytes when the range lies inside `size`. */
  read(offset: number, length: number): Promise<Buffer>;
  /** Called once when the transfer ends, however it ends. */
  close?(): Promise<void> | void;
}

export type OpenResult =
  | { readonly ok: true; readonly source: FileSource }
  | { readonly ok: false; readonly reason: 'not-found' | 'not-a-file' | 'denied'; readonly error: string };

/** Opens a file that is already known to lie inside the served root. */
export async function openDiskFile(path: string): Promise<OpenResult> {
  let handle: fs.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO planted in the root must not hang the server. O_NOFOLLOW: the
    // caller resolved symlinks already, so a symlink appearing here was swapped in since.
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, reason: 'not-found', error: `Cannot open ${path}: ${code}` };
    return { ok: false, reason: 'denied', error: `Cannot open ${path}: ${code ?? String(e)}` };
  }
  const stat = await handle.stat().catch(() => undefined);
  if (!stat?.isFile()) {
    await handle.close().catch(() => {});
    return { ok: false, reason: 'not-a-file', error: `Cannot serve ${path}: not a regular file` };
  }
  const source: FileSource = {
    size: stat.size,
    async read(offset, length) {
      const out = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(out, filled, length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return out.subarray(0, filled);
    },
    close: () => handle.close(),
  };
  return { ok: true, source };
}

/** A source over bytes already in memory (generated files, tests). */
export function bufferSource(bytes: Uint8Array): FileSource {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    size: buf.length,
    read: async (offset, length) => buf.subarray(offset, offset + length),
  };
}
