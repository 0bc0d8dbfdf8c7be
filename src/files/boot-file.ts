import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

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
}

export function memoryFile(data: string | Buffer, contentType = 'text/plain; charset=utf-8', mtime = new Date()): BootFile {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const etag = `"${createHash('sha256').update(buf).digest('base64url').slice(0, 22)}"`;
  return {
    size: buf.length,
    mtime,
    etag,
    contentType,
    read: async (offset, length) => buf.subarray(offset, Math.min(buf.length, offset + length)),
    stream: (start, end) => Readable.from([buf.subarray(start, end + 1)]),
  };
}

/** A regular file on disk, or undefined when it is missing or not a regular file. */
export async function diskFile(path: string, contentType = 'application/octet-stream'): Promise<BootFile | undefined> {
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
  };
}
