import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferReader, type SizedReader } from '../../files/sized-reader.js';
import { ReadAhead } from './read-ahead.js';

/** A reader over `content` that records each read (offset, length) it was asked for. */
function countingReader(content: Buffer): { reader: SizedReader; reads: Array<[number, number]> } {
  const inner = bufferReader(content);
  const reads: Array<[number, number]> = [];
  return {
    reads,
    reader: { size: inner.size, read: (o, l) => { reads.push([o, l]); return inner.read(o, l); }, close: () => inner.close() },
  };
}

function pattern(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + (i >> 9)) & 0xff;
  return b;
}

// Sequential windows of every shape a transfer asks for, across chunk boundaries that no
// window size divides: every byte must come back in place, and after the first chunk the
// bytes must already be in memory (peek) when the reader gets there.
for (const [blksize, windowsize] of [[512, 1], [1468, 1], [1468, 16], [8192, 8], [1000, 3]] as const) {
  test(`read ahead: blksize ${blksize} windowsize ${windowsize} reads a 300 KB file in place, ahead of the reader`, async () => {
    const content = pattern(300_000 + 17);
    const { reader, reads } = countingReader(content);
    const ra = new ReadAhead(reader, 32 * 1024);
    let misses = 0;
    for (let start = 0; start < content.length; start += blksize * windowsize) {
      const length = Math.min(blksize * windowsize, content.length - start);
      let bytes = ra.peek(start, length);
      if (bytes === undefined) {
        misses++;
        bytes = await ra.read(start, length);
      }
      assert.ok(bytes.equals(content.subarray(start, start + length)), `bytes at ${start}`);
      // The reader's own turn lets a started read ahead finish, as a client's round trip would.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const chunks = Math.ceil(content.length / (32 * 1024));
    // Each chunk is read once (a window across a boundary waits for the next one, never re-reads).
    assert.ok(reads.length <= chunks + 1, `${reads.length} source reads for ${chunks} chunks`);
    // Only the first window and windows that straddle a boundary wait for a read.
    assert.ok(misses <= chunks + 1, `${misses} windows waited for the disk`);
  });
}

test('read ahead: a failed read ahead is read again and its error reaches the caller', async () => {
  const content = pattern(100_000);
  const inner = bufferReader(content);
  let fail = false;
  const ra = new ReadAhead({ size: inner.size, read: (o, l) => (fail ? Promise.reject(new Error('EIO')) : inner.read(o, l)), close: async () => {} }, 32 * 1024);
  assert.ok((await ra.read(0, 512)).equals(content.subarray(0, 512)));
  fail = true;
  assert.ok(ra.peek(20_000, 512), 'past the middle: starts the read ahead');
  await assert.rejects(ra.read(32 * 1024, 512), /EIO/);
  fail = false;
  assert.ok((await ra.read(32 * 1024, 512)).equals(content.subarray(32 * 1024, 32 * 1024 + 512)));
});

test('read ahead: a file that shrank comes back short, never padded', async () => {
  const content = pattern(100_000);
  const inner = bufferReader(content.subarray(0, 40_000));
  const ra = new ReadAhead({ size: 100_000, read: (o, l) => inner.read(o, l), close: async () => {} }, 32 * 1024);
  for (let at = 0; at < 32 * 1024; at += 1468) ra.peek(at, 1468) ?? (await ra.read(at, 1468));
  const straddling = await ra.read(32 * 1024 - 100, 1468);
  assert.equal(straddling.length, 1468);
  const beyond = await ra.read(40_000 - 10, 1468);
  assert.equal(beyond.length, 10);
});
