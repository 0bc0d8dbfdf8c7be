import { stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { bufferReader, openFileReader, readerStream, type OpenReaderResult, type SizedReader } from './sized-reader.js';

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
  open(): Promise<SizedReader | undefined>;
}

export function memoryFile(data: string | Buffer, contentType = 'text/plain; charset=utf-8', mtime = new Date()): BootFile {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const etag = `"${createHash('sha256').update(buf).digest('base64url').slice(0, 22)}"`;
  const reader = bufferReader(buf);
  return {
    size: buf.length,
    mtime,
    etag,
    contentType,
    read: (offset, length) => reader.read(offset, length),
    stream: (start, end) => Readable.from([buf.subarray(start, end + 1)]),
    open: async () => reader,
  };
}

export interface DiskFileOptions {
  /**
   * The realpath of the directory `path` was confined to (by `resolveInsideRoot`); every open
   * then refuses a file that is no longer inside it (see `openRegularFile`).
   */
  readonly confinedTo?: string;
}

/**
 * A regular file on disk, or undefined when it is missing or not a regular file. Size and
 * validator come from a look at the path now; every read, stream and `open()` opens the file
 * anew (with `confinedTo`, by the confinement rule) and reads from that descriptor.
 */
export async function diskFile(path: string, contentType = 'application/octet-stream', options: DiskFileOptions = {}): Promise<BootFile | undefined> {
  let st;
  try {
    st = await stat(path);
  } catch {
    return undefined;
  }
  if (!st.isFile()) return undefined;
  const open = (): Promise<OpenReaderResult> => openFileReader(path, options.confinedTo === undefined ? {} : { confinedTo: options.confinedTo });
  return {
    size: st.size,
    mtime: st.mtime,
    etag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}-${st.ino.toString(16)}"`,
    contentType,
    async read(offset, length) {
      const opened = await open();
      if (!opened.ok) throw new Error(opened.error);
      try {
        return await opened.reader.read(offset, length);
      } finally {
        await opened.reader.close();
      }
    },
    stream: (start, end) => readerStream(open, start, end),
    async open() {
      const opened = await open();
      return opened.ok ? opened.reader : undefined;
    },
  };
}
