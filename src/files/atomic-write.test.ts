import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAtomicTempOf, writeFileAtomic } from './atomic-write.js';

test('writeFileAtomic: text, bytes or a stream; exact mode whatever the umask; a failure keeps the old file and leaves no temp file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atomic-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'initrd.img');

  assert.equal(await writeFileAtomic(path, 'héllo'), 6);
  assert.equal(await readFile(path, 'utf8'), 'héllo');
  assert.equal((await stat(path)).mode & 0o777, 0o644);

  const old = process.umask(0o077);
  try {
    assert.equal(await writeFileAtomic(path, new Uint8Array([1, 2, 3]), { mode: 0o640 }), 3);
  } finally {
    process.umask(old);
  }
  assert.equal((await stat(path)).mode & 0o777, 0o640, 'mode set exactly, not through the umask');

  async function* chunks(fail: boolean): AsyncGenerator<Uint8Array> {
    yield Buffer.from('abc');
    if (fail) throw new Error('compressor died');
    yield Buffer.from('def');
  }
  assert.equal(await writeFileAtomic(path, chunks(false)), 6);
  assert.equal(await readFile(path, 'utf8'), 'abcdef');

  await assert.rejects(writeFileAtomic(path, chunks(true)), /compressor died/);
  assert.equal(await readFile(path, 'utf8'), 'abcdef', 'the old content survives a failed write');
  assert.deepEqual(await readdir(dir), ['initrd.img'], 'no temp file left behind');

  await assert.rejects(writeFileAtomic(join(dir, 'missing', 'f'), 'x'), { code: 'ENOENT' });
});

test('writeFileAtomic noReplace: writes a new file whole, refuses an existing one with EEXIST and leaves it and no temp file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atomic-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'diskless.yaml');
  await writeFileAtomic(path, 'first\n', { noReplace: true });
  assert.equal(await readFile(path, 'utf8'), 'first\n');
  await assert.rejects(writeFileAtomic(path, 'second\n', { noReplace: true }), (e: NodeJS.ErrnoException) => e.code === 'EEXIST');
  assert.equal(await readFile(path, 'utf8'), 'first\n');
  assert.deepEqual(await readdir(dir), ['diskless.yaml']);
});

test('isAtomicTempOf knows the temp file of a write in progress, and nothing else', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atomic-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let during: string[] = [];
  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield Buffer.from('abc');
    during = await readdir(dir);
  }
  await writeFileAtomic(join(dir, 'published'), chunks());
  assert.equal(during.length, 1);
  assert.ok(isAtomicTempOf(during[0]!, 'published'), `${during[0]} is the temp file of 'published'`);
  assert.ok(!isAtomicTempOf(during[0]!, 'publishe'));
  for (const other of ['published', '.published', '.published.tmp', '.published.1-abc.tmp', '.other.1-0badcafe.tmp', '.published.x1-0badcafe.tmp']) {
    assert.ok(!isAtomicTempOf(other, 'published'), other);
  }
});
