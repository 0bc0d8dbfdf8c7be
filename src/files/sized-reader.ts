import { Readable } from 'node:stream';
import { openRegularFile, readAt, type OpenFileOptions, type OpenFileRefusal, type OpenedFile } from './open-file.js';

/**
 * Bytes whose size is known before the first read, read at random offsets: what TFTP (tsize and
 * the final-block rule), HTTP (Content-Length and ranges) and NBD (the export size) serve from.
 * One behind a file holds one descriptor, opened once: every read comes from it, so a name
 * swapped or symlinked after the open changes nothing that is served.
 */
export interface SizedReader {
  readonly size: number;
  /**
   * Which file the bytes come from (see `OpenedFile.identity`), for caches; undefined for bytes
   * already in memory, which need none.
   */
  readonly identity?: string;
  /**
   * The bytes at `offset`, `length` of them clamped to `size`: exactly that many unless the
   * file shrank since it was opened, which callers report.
   */
  read(offset: number, length: number): Promise<Buffer>;
  /** Releases the descriptor; reads after it fail. */
  close(): Promise<void>;
}

export type OpenReaderResult = { readonly ok: true; readonly reader: SizedReader } | OpenFileRefusal;

/** A reader over bytes already in memory (generated files, tests); `close` does nothing. */
export function bufferReader(bytes: Uint8Array): SizedReader {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    size: buf.length,
    read: async (offset, length) => buf.subarray(offset, Math.min(buf.length, offset + length)),
    close: async () => {},
  };
}

/** A reader over a file already opened (see `openRegularFile`); its size is the one fstat gave. */
export function openedFileReader(file: OpenedFile): SizedReader {
  const { handle, size, identity } = file;
  return {
    size,
    identity,
    read: (offset, length) => readAt(handle, offset, Math.max(0, Math.min(length, size - offset))),
    close: () => handle.close(),
  };
}

/** Opens `path` once (see `openRegularFile` for `confinedTo`) and reads from that descriptor. */
export async function openFileReader(path: string, options: OpenFileOptions = {}): Promise<OpenReaderResult> {
  const opened = await openRegularFile(path, options);
  return opened.ok ? { ok: true, reader: openedFileReader(opened.file) } : opened;
}

/** Chunk size of `readerStream`: big enough that a large image costs few reads. */
const STREAM_CHUNK_BYTES = 256 * 1024;

/**
 * The bytes start..end (inclusive) of a reader opened when the stream is first read, never
 * buffered whole; the reader is closed when the stream ends, fails or is destroyed. A reader
 * that cannot be opened fails the stream with `open`'s error; one that comes up short ends it
 * early (the file shrank), which the receiver sees as a short body.
 */
export function readerStream(open: () => Promise<OpenReaderResult>, start: number, end: number): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    const opened = await open();
    if (!opened.ok) throw new Error(opened.error);
    try {
      for (let at = start; at <= end; ) {
        const chunk = await opened.reader.read(at, Math.min(STREAM_CHUNK_BYTES, end + 1 - at));
        if (chunk.length === 0) return;
        yield chunk;
        at += chunk.length;
      }
    } finally {
      await opened.reader.close();
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}
