import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileExport } from './file-export.js';

let dir = '';
const bytes = randomBytes(256 * 1024 + 3);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nbd-file-export-'));
  await writeFile(join(dir, 'image.sqfs'), bytes);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('random-access reads return exactly the requested bytes, concurrently', async () => {
  const exp = await fileExport(join(dir, 'image.sqfs'), 'desc');
  try {
    assert.equal(exp.size, bytes.length);
    assert.equal(exp.description, 'desc');
    const ranges: Array<[number, number]> = [[0, 1], [bytes.length - 1, 1], [4095, 8193], [100_000, 150_003], [0, bytes.length]];
    const got = await Promise.all(ranges.map(([o, l]) => exp.read(o, l)));
    for (const [i, [o, l]] of ranges.entries()) assert.ok(got[i]!.equals(bytes.subarray(o, o + l)), `${o}+${l}`);
  } finally {
    await exp.close();
  }
});

test('a node keeps reading the image it opened after a new one is renamed over the path', async () => {
  const path = join(dir, 'current.sqfs');
  await writeFile(path, bytes);
  const exp = await fileExport(path);
  try {
    await writeFile(join(dir, 'next.sqfs'), Buffer.alloc(10, 0xee));
    await rename(join(dir, 'next.sqfs'), path);
    assert.equal(exp.size, bytes.length);
    assert.ok((await exp.read(1000, 1000)).equals(bytes.subarray(1000, 2000)));
  } finally {
    await exp.close();
  }
});

test('a file truncated under the export fails the read instead of returning stale memory', async () => {
  const path = join(dir, 'shrinks.sqfs');
  await writeFile(path, bytes);
  const exp = await fileExport(path);
  try {
    await truncate(path, 1000);
    await assert.rejects(exp.read(500, 1000), /ends at 1000/);
    assert.ok((await exp.read(0, 1000)).equals(bytes.subarray(0, 1000)));
  } finally {
    await exp.close();
  }
});

test('directories and missing files are refused at open; reads after close fail', async () => {
  await assert.rejects(fileExport(dir), /not a regular file|EISDIR/);
  await assert.rejects(fileExport(join(dir, 'missing')), /ENOENT/);
  const exp = await fileExport(join(dir, 'image.sqfs'));
  await exp.close();
  await assert.rejects(exp.read(0, 1));
});
