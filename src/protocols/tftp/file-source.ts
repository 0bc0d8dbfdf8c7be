import { openRegularFile, readAt } from '../../files/open-file.js';

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

/**
 * Opens a file already resolved (realpath) inside `realRoot`, once; every block is read from
 * that descriptor, so a name swapped after the check changes nothing that is served. The
 * open itself re-checks confinement on the descriptor (see `openRegularFile`).
 */
export async function openDiskFile(path: string, realRoot: string): Promise<OpenResult> {
  const opened = await openRegularFile(path, { confinedTo: realRoot });
  if (!opened.ok) return opened;
  const { handle, size } = opened.file;
  const source: FileSource = {
    size,
    read: (offset, length) => readAt(handle, offset, length),
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
