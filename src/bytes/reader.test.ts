import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader } from './reader.js';
import { ByteWriter } from './writer.js';

test('reads big-endian integers and records no overrun inside bounds', () => {
  const r = new ByteReader(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 0xff, 0xff, 0xff, 0xff]));
  assert.equal(r.u8(), 1);
  assert.equal(r.u16(), 0x0203);
  assert.equal(r.u32(), 0x04050607);
  assert.equal(r.u32(), 0xffffffff);
  assert.equal(r.overrun, undefined);
  assert.equal(r.remaining, 0);
});

test('a read past the end returns zero and keeps the first overrun only', () => {
  const r = new ByteReader(Uint8Array.from([1]));
  assert.equal(r.u16('first'), 0);
  assert.equal(r.u32('second'), 0);
  assert.match(r.overrun ?? '', /^first: needs 2 bytes at offset 0, have 1/);
  assert.equal(r.bytes(3).length, 0);
});

test('bytes() is a view and rest() takes everything left', () => {
  const src = Uint8Array.from([9, 8, 7, 6]);
  const r = new ByteReader(src, 1);
  assert.deepEqual([...r.bytes(2)], [8, 7]);
  assert.deepEqual([...r.rest()], [6]);
  assert.equal(r.overrun, undefined);
});

test('writer grows, pads fixed fields and patches', () => {
  const w = new ByteWriter(1);
  w.u8(1).u16(0).u32(0xdeadbeef).fixed(Uint8Array.from([1, 2, 3]), 2).fixed(Uint8Array.from([4]), 3).u64(258n);
  w.patchU16(1, 0xabcd);
  assert.deepEqual([...w.finish()], [1, 0xab, 0xcd, 0xde, 0xad, 0xbe, 0xef, 1, 2, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
});
