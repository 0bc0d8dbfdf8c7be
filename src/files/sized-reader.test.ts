import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bufferReader, openFileReader, readerStream, type OpenReaderResult, type SizedReader } from './sized-reader.js';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dl-reader-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('reads are clamped to the size: in memory, and on disk to the size at open even if the file grew', async (t) => {
  const memory = bufferReader(Buffer.from('0123456789'));
  assert.equal((await memory.read(8, 5)).toString(), '89');
  assert.equal((await memory.read(12, 5)).length, 0);

  const path = join(await tempDir(t), 'f');
  await writeFile(path, '0123456789');
  const opened = await openFileReader(path);
  assert.ok(opened.ok);
  try {
    await appendFile(path, 'grown');
    assert.equal(opened.reader.size, 10);
    assert.equal((await opened.reader.read(8, 5)).toString(), '89');
  } finally {
    await opened.reader.close();
  }
  const missing = await openFileReader(join(path, 'nope'));
  assert.ok(!missing.ok && missing.reason === 'not-found');
});

test('a stream sends the inclusive range across several reads, and closes the reader at its end', async () => {
  const bytes = randomBytes(700 * 1024);
  let closed = 0;
  const reader: SizedReader = { ...bufferReader(bytes), close: async () => { closed++; } };
  const open = async (): Promise<OpenReaderResult> => ({ ok: true, reader });
  const chunks: Buffer[] = [];
  for await (const c of readerStream(open, 5, bytes.length - 2)) chunks.push(c as Buffer);
  assert.ok(chunks.length >= 3, `${chunks.length} chunks`);
  assert.ok(Buffer.concat(chunks).equals(bytes.subarray(5, bytes.length - 1)));
  assert.equal(closed, 1);
});

test('a stream destroyed half way closes its reader; one that cannot open fails with the reason', async () => {
  let closed = 0;
  const reader: SizedReader = { ...bufferReader(randomBytes(2 * 1024 * 1024)), close: async () => { closed++; } };
  const stream = readerStream(async () => ({ ok: true, reader }), 0, reader.size - 1);
  for await (const _ of stream) break;
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(closed, 1);

  const refused = readerStream(async () => ({ ok: false, reason: 'denied', error: 'Cannot open x: ELOOP' }), 0, 10);
  await assert.rejects(async () => {
    for await (const _ of refused) assert.fail('sent bytes');
  }, /ELOOP/);
});
