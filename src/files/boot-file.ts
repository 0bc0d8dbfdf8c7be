import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { openRegularFile, readAt } from './open-file.js';

/**
 * A file the server can send over TFTP or HTTP: on disk or generated in memory.
 * Generated files (pxelinux configs, iPXE scripts) are never written to disk.
 */
export interface BootFile {
  readonly size: number;
  readonly mtime: Date;
  /** Strong validator for HTTP: size+mtime for disk files, a content hash for generated ones. */
  readonly etag: string;
  readonly contentType: string;
  read(offset: number, length: number): Promise<Buffer>;
  /** The bytes start..end (inclusive) as a stream, never buffered whole. */
  stream(start: number, end: number): Readable;
  /**
   * The file opened once, for a reader that comes back many times (TFTP, block by block):
   * every read is served from that one descriptor, so a name swapped or symlinked after the
   * lookup cannot change what is served. Undefined when the file cannot be opened (gone, not
   * a regular file, or no longer inside its confinement root). The caller must close it.
   */
  open(): Promise<OpenedBootFile | undefined>;
}

/** A BootFile held open: its size and bytes come from one descriptor. */
export interface OpenedBootFile {
  readonly size: number;
  /** Exactly `length` bytes inside `size`; fewer only if the file shrank. */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export function memoryFile(data: string | Buffer, contentType = 'text/plain; charset=utf-8', mtime = new Date()): BootFile {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const etag = `"${createHash('sha256').update(buf).digest('base64url').slice(0, 22)}"`;
  const read = async (offset: number, length: number): Promise<Buffer> => buf.subarray(offset, Math.min(buf.length, offset + length));
  return {
    size: buf.length,
    mtime,
    etag,
    contentType,
    read,
    stream: (start, end) => Readable.from([buf.subarray(start, end + 1)]),
    open: async () => ({ size: buf.length, read, close: async () => {} }),
  };
}

export interface DiskFileOptions {
  /**
   * The realpath of the directory `path` was confined to (by `confinedPath`); `open()` then
   * refuses a file that is no longer inside it (see `openRegularFile`).
   */
  readonly confinedTo?: string;
}

/** A regular file on disk, or undefined when it is missing or not a regular file. */
export async function diskFile(path: string, contentType = 'application/octet-stream', options: DiskFileOptions = {}): Promise<BootFile | undefined> {
  let st;
  try {
    st = await stat(path);
  } catch {
    return undefined;
  }
  if (!st.isFile()) return undefined;
  const size = st.size;
  return {
    size,
    mtime: st.mtime,
    etag: `"${size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}-${st.ino.toString(16)}"`,
    contentType,
    async read(offset, length) {
      const fh = await open(path, 'r');
      try {
        const n = Math.max(0, Math.min(length, size - offset));
        const buf = Buffer.allocUnsafe(n);
        let got = 0;
        while (got < n) {
          const { bytesRead } = await fh.read(buf, got, n - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return buf.subarray(0, got);
      } finally {
        await fh.close();
      }
    },
    stream: (start, end) => createReadStream(path, { start, end, highWaterMark: 256 * 1024 }),
    async open() {
      const opened = await openRegularFile(path, options.confinedTo === undefined ? {} : { confinedTo: options.confinedTo });
      if (!opened.ok) return undefined;
      const { handle, size } = opened.file;
      return { size, read: (offset, length) => readAt(handle, offset, Math.max(0, Math.min(length, size - offset))), close: () => handle.close() };
    },
  };
}
