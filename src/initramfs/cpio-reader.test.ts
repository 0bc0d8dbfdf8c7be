import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collect } from './compress.js';
import { type CpioEntry, writeCpio } from './cpio.js';
import { CpioStreamParser, type ListedEntry } from './cpio-reader.js';

const entries: CpioEntry[] = [
  { type: 'dir', path: 'etc', mode: 0o755 },
  { type: 'file', path: 'etc/odd', mode: 0o600, data: Buffer.from('12345') },
  { type: 'file', path: 'etc/big', mode: 0o644, data: Buffer.alloc(70_001, 7) },
  { type: 'symlink', path: 'bin', target: 'usr/bin' },
  { type: 'device', path: 'dev/console', mode: 0o600, kind: 'char', major: 5, minor: 1 },
  { type: 'file', path: 'init', mode: 0o755, data: Buffer.alloc(0) },
];
const expected: ListedEntry[] = [
  { path: 'etc', type: 'dir', mode: 0o755, size: 0 },
  { path: 'etc/odd', type: 'file', mode: 0o600, size: 5 },
  { path: 'etc/big', type: 'file', mode: 0o644, size: 70_001 },
  { path: 'bin', type: 'symlink', mode: 0o777, size: 7, target: 'usr/bin' },
  { path: 'dev/console', type: 'char', mode: 0o600, size: 0 },
  { path: 'init', type: 'file', mode: 0o755, size: 0 },
];

function parseAll(bytes: Buffer, chunk: number): { entries: ListedEntry[]; parser: CpioStreamParser } {
  const parser = new CpioStreamParser();
  const out: ListedEntry[] = [];
  for (let i = 0; i < bytes.length && parser.stoppedAt === undefined; i += chunk) out.push(...parser.push(bytes.subarray(i, i + chunk)));
  return { entries: out, parser };
}

test('what writeCpio writes reads back, whole or one byte at a time', async () => {
  const bytes = await collect(writeCpio(entries));
  for (const chunk of [bytes.length, 4096, 7, 1]) {
    const { entries: got, parser } = parseAll(bytes, chunk);
    assert.deepEqual(got, expected, `chunk ${chunk}`);
    parser.finish();
    assert.equal(parser.archives, 1);
  }
});

test('archives one after another with NUL padding, then a stop at compressed data', async () => {
  const first = await collect(writeCpio([{ type: 'file', path: 'kernel/x86/microcode/GenuineIntel.bin', mode: 0o644, data: Buffer.from('ucode') }]));
  const padded = Buffer.concat([first, Buffer.alloc(512 - (first.length % 512))]);
  const second = await collect(writeCpio(entries));
  const gzipMagic = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
  const all = Buffer.concat([padded, second, Buffer.alloc(3), gzipMagic]);
  const { entries: got, parser } = parseAll(all, 100);
  assert.equal(got.length, 1 + expected.length);
  assert.equal(got[0]!.path, 'kernel/x86/microcode/GenuineIntel.bin');
  assert.equal(parser.archives, 2);
  assert.equal(parser.stoppedAt, padded.length + second.length + 3);
});

test('a truncated or corrupt archive is an error', async () => {
  const bytes = await collect(writeCpio(entries));
  const { parser } = parseAll(bytes.subarray(0, bytes.length - 200), 1000);
  assert.throws(() => parser.finish(), /Cannot read cpio archive: truncated at offset/);
  const corrupt = Buffer.from(bytes);
  corrupt.write('zzzzzzzz', 14, 'latin1'); // c_mode of the first entry
  assert.throws(() => parseAll(corrupt, 1000), /Cannot read cpio header at offset 0: c_mode "zzzzzzzz" is not hex/);
  assert.throws(() => new CpioStreamParser().finish(), /no archive found/);
});
