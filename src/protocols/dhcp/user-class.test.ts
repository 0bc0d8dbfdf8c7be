import { it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeUserClass, encodeUserClass } from './user-class.js';

it('reads the bare "iPXE" string iPXE sends', () => {
  assert.deepEqual(decodeUserClass(Buffer.from('iPXE')), ['iPXE']);
});

it('reads RFC 3004 instances', () => {
  assert.deepEqual(decodeUserClass(Buffer.from('\x04iPXE\x03lab', 'latin1')), ['iPXE', 'lab']);
});

it('falls back to a plain string when instance lengths do not add up', () => {
  assert.deepEqual(decodeUserClass(Buffer.from('\x05iPXE', 'latin1')), ['\x05iPXE']);
  assert.deepEqual(decodeUserClass(Buffer.from('\x00abc', 'latin1')), ['\x00abc']);
});

it('encodes RFC 3004 and rejects empty classes', () => {
  assert.deepEqual(encodeUserClass(['iPXE', 'lab']), Buffer.from('\x04iPXE\x03lab', 'latin1'));
  assert.throws(() => encodeUserClass(['']), RangeError);
});
