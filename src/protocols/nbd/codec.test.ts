import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, CommandFlag, Errno, Info, Option, Reply } from './constants.js';
import type { Decoded } from './decoded.js';
import { decodeExportNameReply, encodeExportNameReply } from './export-name-reply.js';
import { decodeClientFlags, decodeGreeting, encodeClientFlags, encodeGreeting } from './greeting.js';
import { EXPORT_TRANSMISSION_FLAGS } from './negotiate.js';
import {
  decodeInfoRequest,
  decodeOptionHeader,
  encodeInfoRequest,
  encodeOptionRequest,
  exportName,
} from './option-request.js';
import {
  decodeInfoReply,
  decodeOptionReplyHeader,
  decodeServerReplyData,
  encodeInfoBlockSize,
  encodeInfoDescription,
  encodeInfoExport,
  encodeInfoName,
  encodeOptionReply,
  encodeServerReplyData,
} from './option-reply.js';
import {
  decodeErrorChunkPayload,
  decodeStructuredReplyHeader,
  encodeErrorChunk,
  encodeOffsetDataPrefix,
} from './structured-reply.js';
import { decodeRequest, decodeSimpleReply, encodeRequest, encodeSimpleReply } from './transmission.js';
import * as golden from './testdata/golden.js';

function value<T>(d: Decoded<T>): T {
  assert.ok(d.ok, d.ok ? '' : d.error);
  return d.value;
}
const bytes = (b: Uint8Array): number[] => [...b];
const MiB = 1024 * 1024;

test('greeting: encodes NBDMAGIC, IHAVEOPT and FIXED_NEWSTYLE|NO_ZEROES, and decodes back', () => {
  assert.deepEqual(bytes(encodeGreeting()), bytes(golden.greeting));
  assert.deepEqual(value(decodeGreeting(golden.greeting)), { handshakeFlags: 3 });
});

test('greeting: an oldstyle server (cliserv_magic) and a short greeting are refused', () => {
  const oldstyle = Buffer.from(golden.greeting);
  oldstyle.writeBigUInt64BE(0x00420281861253n, 8);
  assert.equal(decodeGreeting(oldstyle).ok, false);
  assert.equal(decodeGreeting(golden.greeting.subarray(0, 17)).ok, false);
});

test('client flags round-trip', () => {
  assert.equal(value(decodeClientFlags(golden.clientFlags)), 3);
  assert.deepEqual(bytes(encodeClientFlags(3)), bytes(golden.clientFlags));
  assert.equal(decodeClientFlags(golden.clientFlags.subarray(0, 3)).ok, false);
});

test('option GO: header and info request decode, and encode back to the same bytes', () => {
  const header = value(decodeOptionHeader(golden.optionGo.subarray(0, 16)));
  assert.deepEqual(header, { option: Option.GO, length: 14 });
  const data = golden.optionGo.subarray(16);
  const request = value(decodeInfoRequest(data));
  assert.equal(exportName(request.name), 'root');
  assert.deepEqual(request.infos, [Info.NAME, Info.BLOCK_SIZE]);
  assert.deepEqual(bytes(encodeOptionRequest(Option.GO, encodeInfoRequest('root', [Info.NAME, Info.BLOCK_SIZE]))), bytes(golden.optionGo));
});

test('option LIST and EXPORT_NAME encode to the golden bytes', () => {
  assert.deepEqual(bytes(encodeOptionRequest(Option.LIST)), bytes(golden.optionList));
  assert.deepEqual(bytes(encodeOptionRequest(Option.EXPORT_NAME, Buffer.from('root'))), bytes(golden.optionExportName));
  assert.deepEqual(value(decodeOptionHeader(golden.optionExportName)), { option: Option.EXPORT_NAME, length: 4 });
});

test('option header with a wrong magic is refused', () => {
  const bad = Buffer.from(golden.optionList);
  bad[0] = 0x4a;
  const d = decodeOptionHeader(bad);
  assert.ok(!d.ok && /IHAVEOPT/.test(d.error));
});

test('info request: lengths that do not add up to the option data are refused', () => {
  const cases: Array<[string, number[]]> = [
    ['shorter than 6 bytes', [0, 0, 0, 0, 0]],
    ['name length past the end', [0, 0, 0, 9, ...Buffer.from('root'), 0, 0]],
    ['name length 4 GiB - 1', [0xff, 0xff, 0xff, 0xff, 0, 0]],
    ['count promises more infos than sent', [0, 0, 0, 0, 0, 2, 0, 1]],
    ['trailing byte after the infos', [0, 0, 0, 0, 0, 1, 0, 1, 0]],
  ];
  for (const [name, data] of cases) assert.equal(decodeInfoRequest(Uint8Array.from(data)).ok, false, name);
  assert.deepEqual(value(decodeInfoRequest(Uint8Array.from([0, 0, 0, 0, 0, 0]))).infos, [], 'empty name, no infos');
});

test('export names: UTF-8 up to 4096 bytes; NUL, bad UTF-8 and longer names name nothing', () => {
  assert.equal(exportName(Buffer.from('')), '');
  assert.equal(exportName(Buffer.from('débian/12')), 'débian/12');
  assert.equal(exportName(Buffer.alloc(4096, 0x61))?.length, 4096);
  assert.equal(exportName(Buffer.alloc(4097, 0x61)), undefined);
  assert.equal(exportName(Buffer.from('a\0b')), undefined);
  assert.equal(exportName(Uint8Array.from([0xc3, 0x28])), undefined);
});

test('option replies: ACK, SERVER, INFO (export, name, description, block size), ERR_UNKNOWN', () => {
  assert.deepEqual(bytes(encodeOptionReply(Option.GO, Reply.ACK)), bytes(golden.replyAck));
  assert.deepEqual(bytes(encodeOptionReply(Option.LIST, Reply.SERVER, encodeServerReplyData('root'))), bytes(golden.replyServer));
  assert.deepEqual(
    bytes(encodeOptionReply(Option.GO, Reply.INFO, encodeInfoExport(1n << 30n, EXPORT_TRANSMISSION_FLAGS))),
    bytes(golden.replyInfoExport),
  );
  assert.deepEqual(bytes(encodeOptionReply(Option.GO, Reply.INFO, encodeInfoBlockSize(1, 4096, 32 * MiB))), bytes(golden.replyInfoBlockSize));
  assert.deepEqual(bytes(encodeOptionReply(Option.GO, Reply.INFO, encodeInfoName('root'))), bytes(golden.replyInfoName));
  assert.deepEqual(bytes(encodeOptionReply(Option.GO, Reply.INFO, encodeInfoDescription('lab'))), bytes(golden.replyInfoDescription));
  assert.deepEqual(bytes(encodeOptionReply(Option.GO, Reply.ERR_UNKNOWN)), bytes(golden.replyErrUnknown));
});

test('option replies decode back (the test client relies on it)', () => {
  assert.deepEqual(value(decodeOptionReplyHeader(golden.replyServer)), { option: Option.LIST, type: Reply.SERVER, length: 8 });
  assert.deepEqual(value(decodeServerReplyData(golden.replyServer.subarray(20))), { name: 'root', description: '' });
  assert.deepEqual(value(decodeInfoReply(golden.replyInfoExport.subarray(20))), { type: 'export', size: 1n << 30n, flags: 0x103 });
  assert.deepEqual(value(decodeInfoReply(golden.replyInfoBlockSize.subarray(20))), {
    type: 'block-size', minimum: 1, preferred: 4096, maximum: 32 * MiB,
  });
  assert.deepEqual(value(decodeInfoReply(golden.replyInfoName.subarray(20))), { type: 'name', name: 'root' });
  assert.deepEqual(value(decodeInfoReply(golden.replyInfoDescription.subarray(20))), { type: 'description', description: 'lab' });
  assert.equal(value(decodeOptionReplyHeader(golden.replyErrUnknown)).type, 0x80000006);
  assert.equal(decodeInfoReply(golden.replyInfoExport.subarray(20, 30)).ok, false, 'truncated NBD_INFO_EXPORT');
});

test('EXPORT_NAME reply: 124 zeroes unless NO_ZEROES was agreed', () => {
  const size = BigInt(MiB + 512);
  assert.deepEqual(bytes(encodeExportNameReply(size, EXPORT_TRANSMISSION_FLAGS, false)), bytes(golden.exportNameReplyPadded));
  assert.deepEqual(bytes(encodeExportNameReply(size, EXPORT_TRANSMISSION_FLAGS, true)), bytes(golden.exportNameReplyNoZeroes));
  assert.deepEqual(value(decodeExportNameReply(golden.exportNameReplyPadded)), { size, flags: 0x103 });
});

test('requests: READ, WRITE with FUA, DISC decode field by field and encode back', () => {
  const read = value(decodeRequest(golden.readRequest));
  assert.deepEqual(read, { flags: 0, command: Command.READ, cookie: 0x0102030405060708n, offset: BigInt(MiB), length: 4096 });
  const write = value(decodeRequest(golden.writeRequest));
  assert.deepEqual(write, { flags: CommandFlag.FUA, command: Command.WRITE, cookie: 0xfffffffffffffffen, offset: 512n, length: 8 });
  const disc = value(decodeRequest(golden.discRequest));
  assert.equal(disc.command, Command.DISC);
  for (const g of [golden.readRequest, golden.writeRequest, golden.discRequest]) {
    assert.deepEqual(bytes(encodeRequest(value(decodeRequest(g)))), bytes(g));
  }
});

test('requests: a wrong magic or a short header is refused', () => {
  const bad = Buffer.from(golden.readRequest);
  bad.writeUInt32BE(0x67446698, 0);
  assert.equal(decodeRequest(bad).ok, false);
  assert.equal(decodeRequest(golden.readRequest.subarray(0, 27)).ok, false);
});

test('simple reply: header with error and cookie', () => {
  assert.deepEqual(bytes(encodeSimpleReply(Errno.EPERM, 0xfffffffffffffffen)), bytes(golden.simpleReplyEperm));
  assert.deepEqual(value(decodeSimpleReply(golden.simpleReplyEperm)), { error: Errno.EPERM, cookie: 0xfffffffffffffffen });
});

test('u64 fields keep all 64 bits (sizes past 2^53, cookies with the top bit set)', () => {
  const big = (1n << 63n) + 12345n;
  assert.equal(value(decodeExportNameReply(encodeExportNameReply(big, 1, true))).size, big);
  const req = { flags: 0, command: Command.READ, cookie: big, offset: big, length: 1 };
  assert.deepEqual(value(decodeRequest(encodeRequest(req))), req);
});

test('structured replies: a final OFFSET_DATA chunk for a READ, and a final ERROR chunk', () => {
  const data = Uint8Array.from([0xde, 0xad, 0xbe, 0xef]);
  const prefix = encodeOffsetDataPrefix(0x0102030405060708n, BigInt(MiB), data.length);
  assert.deepEqual([...prefix, ...data], bytes(golden.structuredOffsetData));
  assert.deepEqual(value(decodeStructuredReplyHeader(golden.structuredOffsetData)), {
    flags: 1, type: 1, cookie: 0x0102030405060708n, length: 12,
  });
  assert.deepEqual(bytes(encodeErrorChunk(42n, Errno.EINVAL, 'eof')), bytes(golden.structuredError));
  const header = value(decodeStructuredReplyHeader(golden.structuredError));
  assert.deepEqual([header.type, header.length], [0x8001, 9]);
  assert.deepEqual(value(decodeErrorChunkPayload(golden.structuredError.subarray(20))), { error: Errno.EINVAL, message: 'eof' });
  assert.equal(decodeStructuredReplyHeader(golden.simpleReplyEperm).ok, false, 'a simple reply is not a chunk');
});
