import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTftpPacket } from './decode.js';
import { encodeTftpPacket } from './encode.js';
import type { TftpPacket } from './packet.js';
import * as golden from './testdata/packets.js';

const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];

/** Plain objects with number arrays, so Buffer and Uint8Array payloads compare equal. */
function plain(p: TftpPacket): unknown {
  return p.type === 'data' ? { ...p, data: [...p.data] } : p;
}

function decodeOk(bytes: Uint8Array): TftpPacket {
  const r = decodeTftpPacket(bytes);
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.packet;
}

function decodeErr(bytes: Uint8Array): string {
  const r = decodeTftpPacket(bytes);
  assert.ok(!r.ok, `expected an error, got ${JSON.stringify(r)}`);
  return r.error;
}

const expected: Record<keyof typeof golden.goldenPackets & string, unknown> = {
  rrqPlain: { type: 'rrq', filename: 'pxelinux.0', mode: 'octet', options: [] },
  rrqOptions: {
    type: 'rrq', filename: 'ipxe.efi', mode: 'octet',
    options: [{ name: 'tsize', value: '0' }, { name: 'blksize', value: '1468' }, { name: 'windowsize', value: '4' }],
  },
  wrqNetascii: { type: 'wrq', filename: 'upload.txt', mode: 'netascii', options: [] },
  data: { type: 'data', block: 1, data: [0xde, 0xad, 0xbe, 0xef] },
  dataEmpty: { type: 'data', block: 65535, data: [] },
  ack: { type: 'ack', block: 258 },
  error: { type: 'error', code: 1, message: 'File not found' },
  oack: { type: 'oack', options: [{ name: 'tsize', value: '1048576' }, { name: 'blksize', value: '1468' }] },
};

for (const [name, bytes] of Object.entries(golden.goldenPackets)) {
  test(`golden ${name}: decodes to the expected packet and encodes back to the same bytes`, () => {
    const packet = decodeOk(bytes);
    assert.deepEqual(plain(packet), expected[name]);
    assert.deepEqual([...encodeTftpPacket(packet)], [...bytes]);
  });
}

test('encoded packets of every kind round-trip through the decoder', () => {
  const packets: TftpPacket[] = [
    { type: 'rrq', filename: 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff', mode: 'OCTET', options: [{ name: 'BlkSize', value: '65464' }] },
    { type: 'wrq', filename: 'x', mode: 'octet', options: [] },
    { type: 'data', block: 0, data: Buffer.alloc(1468, 7) },
    { type: 'ack', block: 65535 },
    { type: 'error', code: 8, message: '' },
    { type: 'oack', options: [{ name: 'windowsize', value: '64' }] },
    { type: 'rrq', filename: 'ünïcode/ßoot.efi', mode: 'octet', options: [{ name: 'x', value: '' }] },
  ];
  for (const p of packets) assert.deepEqual(plain(decodeOk(encodeTftpPacket(p))), plain(p));
});

test('the encoder refuses strings with a NUL byte instead of mis-framing the packet', () => {
  assert.throws(() => encodeTftpPacket({ type: 'rrq', filename: 'a\0b', mode: 'octet', options: [] }), RangeError);
});

const malformed: Array<[string, number[], RegExp]> = [
  ['empty datagram', [], /shorter than an opcode/],
  ['one byte', [0x00], /shorter than an opcode/],
  ['unknown opcode 7', [0x00, 0x07, 0x00, 0x00], /unknown opcode 7/],
  ['opcode 0', [0x00, 0x00], /unknown opcode 0/],
  ['RRQ with nothing after the opcode', [0x00, 0x01], /mode is missing/],
  ['RRQ filename without NUL', [0x00, 0x01, ...ascii('pxelinux.0')], /after the last NUL/],
  ['RRQ without mode', [0x00, 0x01, ...ascii('a'), 0], /mode is missing/],
  ['RRQ mode without NUL', [0x00, 0x01, ...ascii('a'), 0, ...ascii('octet')], /after the last NUL/],
  ['RRQ empty filename', [0x00, 0x01, 0, ...ascii('octet'), 0], /filename is empty/],
  ['RRQ empty mode', [0x00, 0x01, ...ascii('a'), 0, 0], /mode is empty/],
  ['RRQ 256-byte filename', [0x00, 0x01, ...ascii('a'.repeat(256)), 0, ...ascii('octet'), 0], /256 bytes, limit 255/],
  ['RRQ option without NUL', [0x00, 0x01, ...ascii('a'), 0, ...ascii('octet'), 0, ...ascii('blksize')], /after the last NUL/],
  ['RRQ option value without NUL', [0x00, 0x01, ...ascii('a'), 0, ...ascii('octet'), 0, ...ascii('blksize'), 0, ...ascii('512')], /after the last NUL/],
  ['RRQ odd option count', [0x00, 0x01, ...ascii('a'), 0, ...ascii('octet'), 0, ...ascii('blksize'), 0], /"blksize" has no value/],
  ['RRQ duplicate option', [0x00, 0x01, ...ascii('a'), 0, ...ascii('octet'), 0, ...ascii('tsize'), 0, ...ascii('0'), 0, ...ascii('TSIZE'), 0, ...ascii('0'), 0], /"tsize" appears twice/],
  ['RRQ empty option name', [0x00, 0x01, ...ascii('a'), 0, ...ascii('octet'), 0, 0, ...ascii('1'), 0], /option name is empty/],
  ['RRQ huge option value', [0x00, 0x01, ...ascii('a'), 0, ...ascii('octet'), 0, ...ascii('blksize'), 0, ...ascii('9'.repeat(300)), 0], /value is 300 bytes/],
  ['RRQ filename not UTF-8', [0x00, 0x01, 0xff, 0xfe, 0, ...ascii('octet'), 0], /not UTF-8/],
  ['DATA without block', [0x00, 0x03, 0x00], /block number is truncated/],
  ['ACK without block', [0x00, 0x04], /block number is truncated/],
  ['ERROR without code', [0x00, 0x05, 0x00], /error code is truncated/],
  ['OACK without options', [0x00, 0x06], /no options/],
  ['OACK with odd fields', [0x00, 0x06, ...ascii('blksize'), 0], /has no value/],
];
for (const [name, bytes, message] of malformed) {
  test(`malformed: ${name}`, () => {
    assert.match(decodeErr(Uint8Array.from(bytes)), message);
  });
}

test('a decode error carries the opcode so a server can answer a bad request', () => {
  const r = decodeTftpPacket(Uint8Array.from([0x00, 0x01, ...ascii('a')]));
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.opcode, 1);
});

test('lenient cases: padded ACK, ERROR without NUL terminator', () => {
  assert.deepEqual(decodeOk(Uint8Array.from([0x00, 0x04, 0x00, 0x05, 0x00, 0x00])), { type: 'ack', block: 5 });
  assert.deepEqual(decodeOk(Uint8Array.from([0x00, 0x05, 0x00, 0x08, ...ascii('no')])), { type: 'error', code: 8, message: 'no' });
});
