import { Readable, pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import { pipeThrough } from '../process/pipe-through.js';

/**
 * Compression for initramfs streams. The kernel detects the format from the magic bytes, so
 * choosing one is the builder's business only.
 */
export type Compression = 'none' | 'gzip' | 'zstd';

export function compress(source: AsyncIterable<Uint8Array>, format: Compression): AsyncIterable<Uint8Array> {
  switch (format) {
    case 'none':
      return source;
    case 'gzip':
      return gzip(source);
    case 'zstd':
      return zstd(source);
  }
}

/**
 * pipeline() rather than pipe(): an error in the source must fail the output, and a consumer
 * that stops reading must stop the source too.
 */
export async function* gzip(source: AsyncIterable<Uint8Array>, level = 9): AsyncGenerator<Uint8Array> {
  // mtime 0 in the gzip header is zlib's default, so compressed output stays reproducible.
  const out = pipeline(Readable.from(source, { objectMode: false }), createGzip({ level }), () => {});
  for await (const chunk of out) yield chunk as Uint8Array;
}

/**
 * Node 20's zlib has no zstd, so this pipes through the zstd binary (Debian package zstd).
 * Single-threaded zstd at a fixed level gives the same bytes for the same input.
 */
export function zstd(source: AsyncIterable<Uint8Array>, level = 19): AsyncGenerator<Uint8Array> {
  return pipeThrough(['zstd', '-q', '-c', `-${level}`, '-T1'], source);
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of source) parts.push(chunk);
  return Buffer.concat(parts);
}
