import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteQueue } from './byte-queue.js';
import { Command, Info, Option } from './constants.js';
import { encodeClientFlags } from './greeting.js';
import { encodeInfoRequest, encodeOptionRequest } from './option-request.js';
import { NbdParser, type ClientMessage } from './parser.js';
import { encodeRequest, type NbdRequest } from './transmission.js';
import * as golden from './testdata/golden.js';

const req = (command: number, cookie: bigint, offset: bigint, length: number, flags = 0): NbdRequest => ({ flags, command, cookie, offset, length });

/** A whole session: handshake with three options, then requests including a WRITE with payload. */
const writePayload = Buffer.from('payload!IGNORED?'.slice(0, 8));
const session = Buffer.concat([
  encodeClientFlags(3),
  encodeOptionRequest(Option.INFO, encodeInfoRequest('root', [Info.NAME])),
  encodeOptionRequest(Option.LIST),
  Buffer.from(golden.optionGo),
  encodeRequest(req(Command.READ, 1n, 0n, 512)),
  Buffer.from(golden.writeRequest),
  writePayload,
  // A WRITE whose payload is all request magic: it must be skipped, not parsed.
  encodeRequest(req(Command.WRITE, 3n, 0n, 56)),
  Buffer.concat([encodeRequest(req(Command.READ, 99n, 0n, 1)), encodeRequest(req(Command.READ, 98n, 0n, 1))]),
  encodeRequest(req(Command.READ, 4n, 1n << 40n, 4096)),
  Buffer.from(golden.discRequest),
]);

/** Plain values so Buffers compare by content. */
function plain(m: ClientMessage): unknown {
  return m.type === 'option' ? { ...m, data: [...m.data] } : m;
}

const expected: unknown[] = [
  { type: 'client-flags', flags: 3 },
  { type: 'option', option: Option.INFO, data: [...encodeInfoRequest('root', [Info.NAME])] },
  { type: 'option', option: Option.LIST, data: [] },
  { type: 'option', option: Option.GO, data: [...golden.optionGo.subarray(16)] },
  { type: 'request', request: req(Command.READ, 1n, 0n, 512) },
  { type: 'request', request: req(Command.WRITE, 0xfffffffffffffffen, 512n, 8, 1) },
  { type: 'request', request: req(Command.WRITE, 3n, 0n, 56) },
  { type: 'request', request: req(Command.READ, 4n, 1n << 40n, 4096) },
  { type: 'request', request: req(Command.DISC, 9n, 0n, 0) },
];

/** Feeds chunks, pulling after each like a connection does, and switching phase after GO. */
function run(chunks: readonly Buffer[]): unknown[] {
  const parser = new NbdParser();
  const out: unknown[] = [];
  for (const chunk of chunks) {
    parser.push(chunk);
    for (let m = parser.next(); m; m = parser.next()) {
      out.push(plain(m));
      if (m.type === 'option' && m.option === Option.GO) parser.startTransmission();
    }
  }
  assert.equal(parser.buffered, 0);
  return out;
}

test('parses a whole session delivered in one chunk', () => {
  assert.deepEqual(run([session]), expected);
});

test('parses the same session split in two at every byte boundary', () => {
  for (let i = 1; i < session.length; i++) {
    assert.deepEqual(run([session.subarray(0, i), session.subarray(i)]), expected, `split at ${i}`);
  }
});

test('parses the same session one byte at a time', () => {
  const bytes = [...session].map((b) => Buffer.from([b]));
  assert.deepEqual(run(bytes), expected);
});

test('parses the same session split in three at pseudo-random boundaries', () => {
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let k = 0; k < 500; k++) {
    const a = rand(session.length);
    const b = a + rand(session.length - a);
    assert.deepEqual(run([session.subarray(0, a), session.subarray(a, b), session.subarray(b)]), expected, `splits ${a}, ${b}`);
  }
});

test('pull model: bytes after GO are not parsed until the connection says transmission started', () => {
  const parser = new NbdParser();
  parser.push(Buffer.concat([encodeClientFlags(1), Buffer.from(golden.optionGo), Buffer.from(golden.readRequest)]));
  assert.equal(parser.next()?.type, 'client-flags');
  assert.equal(parser.next()?.type, 'option');
  assert.equal(parser.buffered, 28, 'the request waits in the queue');
  parser.startTransmission();
  assert.deepEqual(parser.next(), { type: 'request', request: req(Command.READ, 0x0102030405060708n, 1n << 20n, 4096) });
});

test('a request read as an option header (GO refused, client went on anyway) is a framing error', () => {
  const parser = new NbdParser();
  parser.push(Buffer.concat([encodeClientFlags(1), Buffer.from(golden.readRequest), Buffer.alloc(100)]));
  parser.next();
  const m = parser.next();
  assert.equal(m?.type, 'error');
  assert.equal(parser.buffered, 0, 'nothing kept after a framing error');
  parser.push(Buffer.alloc(10));
  assert.equal(parser.buffered, 0);
  assert.equal(parser.next(), undefined);
});

test('option data over the cap is reported from the header alone, never buffered (CVE-2022-26495 class)', () => {
  const parser = new NbdParser();
  const header = Buffer.from(golden.optionExportName.subarray(0, 16));
  header.writeUInt32BE(0xffffffff, 12);
  parser.push(Buffer.concat([encodeClientFlags(3), header]));
  parser.next();
  assert.deepEqual(parser.next(), { type: 'option-too-big', option: Option.EXPORT_NAME, length: 0xffffffff });
  parser.push(Buffer.alloc(1024 * 1024));
  assert.equal(parser.buffered, 0);
});

test('option data exactly at the cap is accepted once it has all arrived', () => {
  const parser = new NbdParser({ maxOptionData: 100 });
  parser.push(Buffer.concat([encodeClientFlags(3), encodeOptionRequest(77, Buffer.alloc(100, 1)).subarray(0, 60)]));
  parser.next();
  assert.equal(parser.next(), undefined);
  parser.push(encodeOptionRequest(77, Buffer.alloc(100, 1)).subarray(60));
  const m = parser.next();
  assert.ok(m?.type === 'option' && m.data.length === 100);
});

test('a WRITE payload is skipped as it streams in, without being buffered', () => {
  const parser = new NbdParser();
  parser.push(encodeClientFlags(3));
  parser.next();
  parser.startTransmission();
  parser.push(encodeRequest(req(Command.WRITE, 5n, 0n, 32 * 1024 * 1024)));
  for (let i = 0; i < 31; i++) {
    parser.push(Buffer.alloc(1024 * 1024));
    assert.equal(parser.next(), undefined);
    assert.equal(parser.buffered, 0);
  }
  parser.push(Buffer.concat([Buffer.alloc(1024 * 1024), Buffer.from(golden.discRequest)]));
  assert.equal(parser.next()?.type, 'request');
  assert.equal(parser.buffered, 28);
  assert.deepEqual(parser.next(), { type: 'request', request: req(Command.DISC, 9n, 0n, 0) });
});

test('a WRITE over 32 MiB is a framing error (the spec lets the server disconnect)', () => {
  const parser = new NbdParser();
  parser.push(encodeClientFlags(3));
  parser.next();
  parser.startTransmission();
  parser.push(encodeRequest(req(Command.WRITE, 5n, 0n, 32 * 1024 * 1024 + 1)));
  assert.equal(parser.next()?.type, 'error');
});

test('startTransmission in the middle of an option is a bug in the caller', () => {
  const parser = new NbdParser();
  assert.throws(() => parser.startTransmission(), /client-flags/);
});

test('ByteQueue consumes exact amounts across chunks and discards without copying', () => {
  const q = new ByteQueue();
  q.push(Buffer.from([1, 2, 3]));
  q.push(Buffer.alloc(0));
  q.push(Buffer.from([4, 5]));
  q.push(Buffer.from([6, 7, 8, 9]));
  assert.equal(q.length, 9);
  assert.deepEqual([...q.consume(2)], [1, 2]);
  assert.deepEqual([...q.consume(4)], [3, 4, 5, 6]);
  assert.equal(q.discard(2), 2);
  assert.deepEqual([...q.consume(1)], [9]);
  assert.equal(q.length, 0);
  assert.equal(q.discard(5), 0);
  assert.deepEqual([...q.consume(0)], []);
  assert.throws(() => q.consume(1), RangeError);
});
