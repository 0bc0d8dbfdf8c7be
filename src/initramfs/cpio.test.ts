import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type CpioEntry, writeCpio } from './cpio.js';
import { collect, gzip, zstd } from './compress.js';

const tiny: CpioEntry[] = [
  { type: 'dir', path: '/d', mode: 0o755 },
  { type: 'file', path: 'd/f', mode: 0o644, data: Buffer.from('hi\n') },
  { type: 'symlink', path: 'l', target: 'd/f' },
  { type: 'device', path: 'c', mode: 0o600, kind: 'char', major: 5, minor: 1 },
];

test('a tiny archive matches hand-checked bytes', async () => {
  const expected = [
    // dir "d"
    '070701', //  c_magic
    '00000001', // c_ino: first entry
    '000041ed', // c_mode: S_IFDIR | 0755
    '00000000', // c_uid
    '00000000', // c_gid
    '00000002', // c_nlink: a directory has 2
    '00000000', // c_mtime
    '00000000', // c_filesize
    '00000000', // c_devmajor
    '00000000', // c_devminor
    '00000000', // c_rdevmajor
    '00000000', // c_rdevminor
    '00000002', // c_namesize: "d" + NUL
    '00000000', // c_check
    'd\0', //      110 + 2 = 112, already aligned
    // file "d/f"
    '070701',
    '00000002', // c_ino
    '000081a4', // c_mode: S_IFREG | 0644
    '00000000',
    '00000000',
    '00000001', // c_nlink
    '00000000',
    '00000003', // c_filesize: "hi\n"
    '00000000',
    '00000000',
    '00000000',
    '00000000',
    '00000004', // c_namesize: "d/f" + NUL
    '00000000',
    'd/f\0\0\0', // 110 + 4 = 114, padded to 116
    'hi\n\0', //   data padded to 4
    // symlink "l" -> "d/f"
    '070701',
    '00000003',
    '0000a1ff', // c_mode: S_IFLNK | 0777
    '00000000',
    '00000000',
    '00000001',
    '00000000',
    '00000003', // c_filesize: the target's length, no NUL
    '00000000',
    '00000000',
    '00000000',
    '00000000',
    '00000002',
    '00000000',
    'l\0',
    'd/f\0', //    target padded to 4
    // char device "c" 5,1
    '070701',
    '00000004',
    '00002180', // c_mode: S_IFCHR | 0600
    '00000000',
    '00000000',
    '00000001',
    '00000000',
    '00000000',
    '00000000',
    '00000000',
    '00000005', // c_rdevmajor
    '00000001', // c_rdevminor
    '00000002',
    '00000000',
    'c\0',
    // trailer
    '070701',
    '00000000', // c_ino 0
    '00000000', // c_mode 0
    '00000000',
    '00000000',
    '00000001', // c_nlink 1, as GNU cpio writes it
    '00000000',
    '00000000',
    '00000000',
    '00000000',
    '00000000',
    '00000000',
    '0000000b', // c_namesize: "TRAILER!!!" + NUL
    '00000000',
    'TRAILER!!!\0\0\0\0', // 110 + 11 = 121, padded to 124
  ].join('');
  const got = await collect(writeCpio(tiny));
  assert.equal(got.toString('latin1'), expected);
});

test('the same entries give identical bytes; mtime is configurable', async () => {
  const a = await collect(writeCpio(tiny));
  const b = await collect(writeCpio(tiny));
  assert.ok(a.equals(b));
  const dated = await collect(writeCpio(tiny, { mtime: 0x5f5e100 }));
  assert.equal(dated.subarray(46, 54).toString('latin1'), '05f5e100');
  assert.equal(dated.length, a.length);
});

async function* chunks(parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield Buffer.from(p);
}

test('a streamed file whose size is wrong fails instead of corrupting the archive', async () => {
  const short: CpioEntry = { type: 'file', path: 'x', mode: 0o644, data: { size: 10, stream: () => chunks(['abc']) } };
  await assert.rejects(collect(writeCpio([short])), /Cannot write cpio entry x: declared size 10, stream gave 3/);
  const long: CpioEntry = { type: 'file', path: 'x', mode: 0o644, data: { size: 2, stream: () => chunks(['abc']) } };
  await assert.rejects(collect(writeCpio([long])), /stream gave more/);
});

test('paths that escape the archive root are refused', async () => {
  await assert.rejects(collect(writeCpio([{ type: 'dir', path: 'a/../..', mode: 0o755 }])), /"\.\." is not allowed/);
  await assert.rejects(collect(writeCpio([{ type: 'dir', path: '/', mode: 0o755 }])), /empty path/);
});

function cpio(args: string[], input: Buffer, cwd: string): string {
  const r = spawnSync('cpio', args, { input, cwd, encoding: 'buffer' });
  assert.equal(r.status, 0, `cpio ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

test("Debian's cpio lists and extracts what was written", async (t) => {
  const big = Buffer.alloc(70_001, 7);
  const entries: CpioEntry[] = [
    ...tiny,
    { type: 'dir', path: 'bin', mode: 0o700 },
    { type: 'file', path: 'bin/tool', mode: 0o4755, data: { size: big.length, stream: () => halves(big) } },
    { type: 'file', path: 'empty', mode: 0o600, data: new Uint8Array(0) },
    { type: 'symlink', path: 'bin/sh', target: '/bin/tool' },
    { type: 'device', path: 'b', mode: 0o660, kind: 'block', major: 7, minor: 3 },
  ];
  const archive = await collect(writeCpio(entries));
  const dir = mkdtempSync(join(tmpdir(), 'cpio-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const names = cpio(['-t', '--quiet'], archive, dir).trim().split('\n');
  assert.deepEqual(names, ['d', 'd/f', 'l', 'c', 'bin', 'bin/tool', 'empty', 'bin/sh', 'b']);

  cpio(['-i', '--quiet', '--make-directories', '--no-absolute-filenames'], archive, dir);
  const mode = (p: string): number => lstatSync(join(dir, p)).mode;
  assert.equal(mode('d'), 0o040755);
  assert.equal(mode('d/f'), 0o100644);
  assert.equal(mode('bin/tool'), 0o104755);
  assert.equal(mode('empty'), 0o100600);
  assert.equal(lstatSync(join(dir, 'l')).isSymbolicLink(), true);
  assert.equal(readlinkSync(join(dir, 'l')), 'd/f');
  assert.equal(readlinkSync(join(dir, 'bin/sh')), '/bin/tool');
  assert.equal(readFileSync(join(dir, 'd/f'), 'utf8'), 'hi\n');
  assert.ok(readFileSync(join(dir, 'bin/tool')).equals(big));
  assert.equal(readFileSync(join(dir, 'empty')).length, 0);
  const c = lstatSync(join(dir, 'c'));
  assert.equal(c.isCharacterDevice(), true);
  assert.equal(c.mode & 0o7777, 0o600);
  assert.equal(c.rdev, (5 << 8) | 1);
  const b = lstatSync(join(dir, 'b'));
  assert.equal(b.isBlockDevice(), true);
  assert.equal(b.rdev, (7 << 8) | 3);
});

async function* halves(b: Buffer): AsyncGenerator<Uint8Array> {
  const mid = Math.floor(b.length / 2);
  yield b.subarray(0, mid);
  yield b.subarray(mid);
}

test('gzip output decompresses to the archive and is reproducible', async () => {
  const plain = await collect(writeCpio(tiny));
  const z1 = await collect(gzip(writeCpio(tiny)));
  const z2 = await collect(gzip(writeCpio(tiny)));
  assert.ok(z1.equals(z2));
  assert.deepEqual(z1.subarray(0, 2), Buffer.from([0x1f, 0x8b]));
  assert.ok(gunzipSync(z1).equals(plain));
});

test('a failing source fails the gzip stream', async () => {
  async function* broken(): AsyncGenerator<Uint8Array> {
    yield Buffer.from('x');
    throw new Error('source broke');
  }
  await assert.rejects(collect(gzip(broken())), /source broke/);
});

test('zstd output decompresses with the zstd tool and is reproducible', async () => {
  const plain = await collect(writeCpio(tiny));
  const z1 = await collect(zstd(writeCpio(tiny)));
  const z2 = await collect(zstd(writeCpio(tiny)));
  assert.ok(z1.equals(z2));
  assert.deepEqual(z1.subarray(0, 4), Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
  const r = spawnSync('zstd', ['-d', '-c'], { input: z1 });
  assert.equal(r.status, 0);
  assert.ok(r.stdout.equals(plain));
});

test('a failing source fails the zstd stream and ends zstd', async () => {
  async function* broken(): AsyncGenerator<Uint8Array> {
    yield Buffer.alloc(100_000, 1);
    throw new Error('source broke');
  }
  await assert.rejects(collect(zstd(broken())), /source broke/);
});
