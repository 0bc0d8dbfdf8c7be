import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockCache } from './block-cache.js';
import { bufferReader, openFileReader, type SizedReader } from './sized-reader.js';

const KiB = 1024;

/** A reader over `bytes` that counts its reads, as a file would be read (identity given). */
function countingReader(bytes: Buffer, identity = 'f1'): SizedReader & { reads: Array<[number, number]> } {
  const reads: Array<[number, number]> = [];
  return {
    size: bytes.length,
    identity,
    reads,
    read: async (offset, length) => {
      reads.push([offset, length]);
      // A fresh copy, as a pread into a new buffer would give.
      return Buffer.from(bytes.subarray(offset, Math.min(bytes.length, offset + length)));
    },
    close: async () => {},
  };
}

const joined = (slices: readonly Buffer[]) => Buffer.concat(slices);

test('a read misses once, then the same bytes come from memory without touching the file, across block edges', async () => {
  const bytes = randomBytes(100 * KiB + 123);
  const r = countingReader(bytes);
  const cache = new BlockCache({ maxBytes: 1024 * KiB, blockBytes: 16 * KiB });
  assert.equal(cache.peek(r, 0, 4096), undefined);
  assert.deepEqual(joined(await cache.read(r, 15 * KiB, 3 * KiB)), bytes.subarray(15 * KiB, 18 * KiB));
  assert.deepEqual(r.reads, [[0, 16 * KiB], [16 * KiB, 16 * KiB]], 'whole aligned blocks are read');
  const hit = cache.peek(r, 15 * KiB, 3 * KiB);
  assert.ok(hit !== undefined);
  assert.equal(hit.length, 2, 'two slices, no copy into one buffer');
  assert.deepEqual(joined(hit), bytes.subarray(15 * KiB, 18 * KiB));
  // The short last block, and a range clamped to the size.
  assert.deepEqual(joined(await cache.read(r, 96 * KiB, 64 * KiB)), bytes.subarray(96 * KiB));
  assert.deepEqual(joined(cache.peek(r, 100 * KiB, 1000)!), bytes.subarray(100 * KiB));
  const s = cache.stats();
  assert.equal(s.blocks, 3);
  assert.equal(s.bytes, 16 * KiB * 2 + bytes.length - 96 * KiB);
  assert.equal(s.hits, 2);
  assert.equal(s.misses, 2);
});

test('memory stays within maxBytes; the least recently used block goes first', async () => {
  const bytes = randomBytes(64 * KiB);
  const r = countingReader(bytes);
  const cache = new BlockCache({ maxBytes: 80 * KiB, blockBytes: 16 * KiB });
  assert.equal(cache.caches(r), false, 'a file larger than half the cache is not cached');
  assert.deepEqual(joined(await cache.read(r, 0, 64 * KiB)), bytes);
  assert.equal(cache.stats().bytes, 0);

  const small = new BlockCache({ maxBytes: 48 * KiB, blockBytes: 4 * KiB });
  const files = [0, 1, 2].map((i) => countingReader(randomBytes(24 * KiB), `f${i}`));
  for (const f of files) await small.read(f, 0, 24 * KiB);
  // 3 × 24 KiB into 48 KiB: the first file's blocks were evicted, oldest first.
  assert.equal(small.stats().bytes, 48 * KiB);
  assert.equal(small.stats().evictions, 6);
  assert.equal(small.peek(files[0]!, 0, 4 * KiB), undefined);
  assert.ok(small.peek(files[1]!, 0, 24 * KiB));
  // files[1] was used last, so files[2]'s blocks go before it.
  await small.read(files[0]!, 0, 4 * KiB);
  assert.ok(small.peek(files[1]!, 0, 24 * KiB));
  assert.equal(small.peek(files[2]!, 0, 4 * KiB), undefined);
  assert.ok(small.stats().bytes <= 48 * KiB);
});

test('concurrent misses of one block read it from the file once', async () => {
  const bytes = randomBytes(64 * KiB);
  const r = countingReader(bytes);
  const cache = new BlockCache({ maxBytes: 1024 * KiB, blockBytes: 32 * KiB });
  const all = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.read(r, i * 1024, 4096)));
  all.forEach((s, i) => assert.deepEqual(joined(s), bytes.subarray(i * 1024, i * 1024 + 4096)));
  assert.deepEqual(r.reads, [[0, 32 * KiB]]);
});

test('a file replaced, rewritten or touched on disk is never served from the old blocks', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-block-cache-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'root.img');
  const cache = new BlockCache({ maxBytes: 4096 * KiB });
  const serve = async () => {
    const opened = await openFileReader(path);
    assert.ok(opened.ok);
    try {
      return joined(await cache.read(opened.reader, 0, opened.reader.size));
    } finally {
      await opened.reader.close();
    }
  };
  const a = randomBytes(200 * KiB);
  await writeFile(path, a);
  assert.deepEqual(await serve(), a);
  assert.deepEqual(await serve(), a);
  assert.equal(cache.stats().hits, 1);

  // Renamed over: a new inode.
  const b = randomBytes(200 * KiB);
  await writeFile(join(dir, 'new'), b);
  await rename(join(dir, 'new'), path);
  assert.deepEqual(await serve(), b);

  // Rewritten in place with the same size, and its mtime set back: ctime still moves. The
  // kernel stamps times from a clock that ticks every few ms, so the rewrite waits for a tick.
  const c = randomBytes(200 * KiB);
  const { mtime } = await stat(path);
  const before = Date.now();
  while (Date.now() < before + 20) await new Promise((resolve) => setImmediate(resolve));
  await writeFile(path, c);
  await utimes(path, mtime, mtime);
  assert.deepEqual(await serve(), c);

  // A new file shrunk under its open descriptor before any read: the short block is served as
  // the file is now, and never cached.
  const d = randomBytes(200 * KiB);
  await writeFile(join(dir, 'shrinks'), d);
  const opened = await openFileReader(join(dir, 'shrinks'));
  assert.ok(opened.ok);
  await truncate(join(dir, 'shrinks'), 100 * KiB + 5);
  const got = joined(await cache.read(opened.reader, 0, opened.reader.size));
  await opened.reader.close();
  assert.deepEqual(got, d.subarray(0, 100 * KiB + 5));
  assert.equal(cache.peek(opened.reader, 0, opened.reader.size), undefined);
});

test('bytes already in memory, and a cache of size 0, go straight to the reader', async () => {
  const bytes = randomBytes(10 * KiB);
  const cache = new BlockCache({ maxBytes: 1024 * KiB });
  assert.equal(cache.caches(bufferReader(bytes)), false);
  assert.deepEqual(joined(await cache.read(bufferReader(bytes), 100, 200)), bytes.subarray(100, 300));
  const off = new BlockCache({ maxBytes: 0 });
  const r = countingReader(bytes);
  await off.read(r, 0, 4096);
  await off.read(r, 0, 4096);
  assert.equal(r.reads.length, 2);
  assert.equal(off.stats().bytes, 0);
  assert.throws(() => new BlockCache({ maxBytes: 1, blockBytes: 1000 }), /power of two/);
  assert.throws(() => new BlockCache({ maxBytes: -1 }), /maxBytes/);
});
