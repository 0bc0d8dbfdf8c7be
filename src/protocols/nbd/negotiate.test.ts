import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Info, Option, Reply, TransmissionFlag } from './constants.js';
import { decodeExportNameReply } from './export-name-reply.js';
import { bufferExport, staticExports, type NbdExportProvider } from './exports.js';
import { answerOption, EXPORT_TRANSMISSION_FLAGS, type OptionOutcome } from './negotiate.js';
import { encodeInfoRequest } from './option-request.js';
import { decodeInfoReply, decodeOptionReplyHeader, decodeServerReplyData, type InfoReply } from './option-reply.js';

const root = bufferExport(Buffer.alloc(1000, 1), 'Debian 12 root');
const exports = staticExports({ root, '': bufferExport(Buffer.alloc(10)) });
const ctx = { exports, noZeroes: true };

/** Reply types and payloads of an outcome, decoded. */
function replies(o: OptionOutcome): Array<{ option: number; type: number; data: Buffer }> {
  return o.replies.map((r) => {
    const h = decodeOptionReplyHeader(r);
    assert.ok(h.ok);
    assert.equal(r.length, 20 + h.value.length, 'length field covers the data exactly');
    return { option: h.value.option, type: h.value.type, data: r.subarray(20) };
  });
}
function infos(o: OptionOutcome): InfoReply[] {
  return replies(o).filter((r) => r.type === Reply.INFO).map((r) => {
    const d = decodeInfoReply(r.data);
    assert.ok(d.ok);
    return d.value;
  });
}

test('read-only exports advertise HAS_FLAGS, READ_ONLY and CAN_MULTI_CONN, and nothing writable', () => {
  assert.equal(EXPORT_TRANSMISSION_FLAGS, TransmissionFlag.HAS_FLAGS | TransmissionFlag.READ_ONLY | TransmissionFlag.CAN_MULTI_CONN);
});

test('GO for a known export: INFO_EXPORT, requested NAME and DESCRIPTION, BLOCK_SIZE, then ACK, then transmission', async () => {
  const o = await answerOption(Option.GO, encodeInfoRequest('root', [Info.NAME, Info.DESCRIPTION, 999]), ctx);
  assert.equal(o.next, 'transmission');
  assert.ok(o.next === 'transmission' && o.name === 'root' && o.export === root);
  assert.deepEqual(infos(o), [
    { type: 'export', size: 1000n, flags: EXPORT_TRANSMISSION_FLAGS },
    { type: 'name', name: 'root' },
    { type: 'description', description: 'Debian 12 root' },
    { type: 'block-size', minimum: 1, preferred: 4096, maximum: 32 * 1024 * 1024 },
  ]);
  const rs = replies(o);
  assert.equal(rs.at(-1)?.type, Reply.ACK);
  assert.ok(rs.every((r) => r.option === Option.GO));
});

test('INFO answers like GO but stays in option haggling', async () => {
  const o = await answerOption(Option.INFO, encodeInfoRequest('root'), ctx);
  assert.equal(o.next, 'options');
  assert.deepEqual(infos(o).map((i) => i.type), ['export', 'block-size']);
});

test('an empty name selects the default export', async () => {
  const o = await answerOption(Option.GO, encodeInfoRequest(''), ctx);
  assert.ok(o.next === 'transmission' && o.export.size === 10);
});

const refusals: Array<[string, Uint8Array, number]> = [
  ['unknown export', encodeInfoRequest('nope'), Reply.ERR_UNKNOWN],
  ['4097-byte name', encodeInfoRequest(Buffer.alloc(4097, 0x61)), Reply.ERR_UNKNOWN],
  ['name with NUL', encodeInfoRequest(Buffer.from('ro\0ot')), Reply.ERR_UNKNOWN],
  ['malformed data', Uint8Array.from([0, 0, 0, 200, 1, 2]), Reply.ERR_INVALID],
];
for (const [name, data, type] of refusals) {
  test(`GO refused for ${name}, with a message and no INFO`, async () => {
    const o = await answerOption(Option.GO, data, ctx);
    assert.equal(o.next, 'options');
    const rs = replies(o);
    assert.equal(rs.length, 1);
    assert.equal(rs[0]?.type, type);
    assert.ok((rs[0]?.data.length ?? 0) > 0, 'error replies carry a human-readable message');
  });
}

test('a provider that throws or returns a bad size refuses the export instead of failing the connection', async () => {
  const broken: NbdExportProvider = {
    open: async (name) => {
      if (name === 'throws') throw new Error('disk on fire');
      return { size: -1, read: async () => Buffer.alloc(0) };
    },
    list: async () => { throw new Error('no list'); },
  };
  for (const name of ['throws', 'negative']) {
    const o = await answerOption(Option.GO, encodeInfoRequest(name), { exports: broken, noZeroes: false });
    assert.equal(replies(o)[0]?.type, Reply.ERR_UNKNOWN, name);
  }
  const list = await answerOption(Option.LIST, new Uint8Array(0), { exports: broken, noZeroes: false });
  assert.equal(replies(list)[0]?.type, Reply.ERR_POLICY);
  assert.match(replies(list)[0]!.data.toString(), /no list/);
});

test('EXPORT_NAME: padded or not per NO_ZEROES; unknown or invalid names close without a reply', async () => {
  const padded = await answerOption(Option.EXPORT_NAME, Buffer.from('root'), { exports, noZeroes: false });
  assert.ok(padded.next === 'transmission');
  assert.equal(padded.replies[0]?.length, 134);
  const d = decodeExportNameReply(padded.replies[0]!);
  assert.ok(d.ok && d.value.size === 1000n && d.value.flags === EXPORT_TRANSMISSION_FLAGS);
  const bare = await answerOption(Option.EXPORT_NAME, Buffer.from('root'), ctx);
  assert.equal(bare.replies[0]?.length, 10);
  for (const name of [Buffer.from('nope'), Buffer.alloc(5000, 0x61)]) {
    const o = await answerOption(Option.EXPORT_NAME, name, ctx);
    assert.ok(o.next === 'close' && o.refused);
    assert.equal(o.replies.length, 0);
  }
});

test('LIST: one SERVER per export then ACK; data is refused as ERR_INVALID', async () => {
  const o = await answerOption(Option.LIST, new Uint8Array(0), ctx);
  const rs = replies(o);
  assert.deepEqual(rs.map((r) => r.type), [Reply.SERVER, Reply.SERVER, Reply.ACK]);
  assert.deepEqual(rs.slice(0, 2).map((r) => { const d = decodeServerReplyData(r.data); return d.ok ? d.value.name : '?'; }), ['root', '']);
  const bad = await answerOption(Option.LIST, Uint8Array.from([1]), ctx);
  assert.equal(replies(bad)[0]?.type, Reply.ERR_INVALID);
});

test('ABORT is acknowledged, then the connection closes normally', async () => {
  const o = await answerOption(Option.ABORT, new Uint8Array(0), ctx);
  assert.ok(o.next === 'close' && !o.refused);
  assert.equal(replies(o)[0]?.type, Reply.ACK);
});

test('STRUCTURED_REPLY is acknowledged and switches structured replies on; with data it is invalid', async () => {
  const o = await answerOption(Option.STRUCTURED_REPLY, new Uint8Array(0), ctx);
  assert.ok(o.next === 'options' && o.structuredReplies === true);
  assert.equal(replies(o)[0]?.type, Reply.ACK);
  const bad = await answerOption(Option.STRUCTURED_REPLY, Uint8Array.from([0]), ctx);
  assert.ok(bad.next === 'options' && bad.structuredReplies === undefined);
  assert.equal(replies(bad)[0]?.type, Reply.ERR_INVALID);
});

test('STARTTLS, meta contexts, extended headers and unknown options get ERR_UNSUP', async () => {
  for (const option of [Option.STARTTLS, Option.LIST_META_CONTEXT, Option.SET_META_CONTEXT, Option.EXTENDED_HEADERS, 4, 12, 0xffffffff]) {
    const o = await answerOption(option, Buffer.from('x'), ctx);
    assert.equal(o.next, 'options');
    assert.equal(replies(o)[0]?.type, Reply.ERR_UNSUP, String(option));
    assert.equal(replies(o)[0]?.option, option);
  }
});
