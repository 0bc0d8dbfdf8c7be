import { spawn } from 'node:child_process';
import { Readable, pipeline } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

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
export async function* zstd(source: AsyncIterable<Uint8Array>, level = 19): AsyncGenerator<Uint8Array> {
  const child = spawn('zstd', ['-q', '-c', `-${level}`, '-T1'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const fed = pipelineAsync(Readable.from(source, { objectMode: false }), child.stdin);
  // A failing source must end zstd too, or reading its output would wait forever.
  fed.catch(() => child.kill('SIGKILL'));
  exited.catch(() => {});
  try {
    for await (const chunk of child.stdout) yield chunk as Uint8Array;
    const [feeding, exit] = await Promise.allSettled([fed, exited]);
    if (exit.status === 'rejected') throw new Error(`Cannot compress with zstd: ${(exit.reason as Error).message}`);
    if (feeding.status === 'rejected') throw feeding.reason;
    if (exit.value !== 0) {
      throw new Error(`Cannot compress with zstd: exit ${exit.value}: ${Buffer.concat(stderr).toString().trim()}`);
    }
  } finally {
    // Also reached when the consumer stops early: do not leave zstd running.
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of source) parts.push(chunk);
  return Buffer.concat(parts);
}
