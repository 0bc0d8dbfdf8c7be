import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTftpPacket } from './decode.js';
import { bufferReader, type SizedReader } from '../../files/sized-reader.js';
import type { TftpOption, TftpPacket } from './packet.js';
import { FakeTimers } from './testdata/fake-timers.js';
import { ReadTransfer, type TransferEnd } from './transfer.js';

/** Lets pending source reads (promises) settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function harness(opts: {
  size?: number;
  source?: SizedReader;
  blksize?: number;
  windowsize?: number;
  retries?: number;
  oack?: TftpOption[];
}) {
  const content = Buffer.alloc(opts.size ?? 0);
  for (let i = 0; i < content.length; i++) content[i] = (i * 7 + (i >> 8)) & 0xff;
  const timers = new FakeTimers();
  const sent: TftpPacket[] = [];
  const ends: TransferEnd[] = [];
  const transfer = new ReadTransfer({
    source: opts.source ?? bufferReader(content),
    blksize: opts.blksize ?? 512,
    windowsize: opts.windowsize ?? 1,
    timeoutMs: 1000,
    retries: opts.retries ?? 5,
    oack: opts.oack ?? [],
    timers,
    send: (datagram) => {
      const r = decodeTftpPacket(datagram);
      assert.ok(r.ok);
      sent.push(r.packet);
    },
    onEnd: (end) => ends.push(end),
  });
  /** Takes what was sent since the last call, as short strings: D1:512 A0 E0 O. */
  const drain = (): string[] => sent.splice(0).map((p) => {
    switch (p.type) {
      case 'data': return `D${p.block}:${p.data.length}`;
      case 'error': return `E${p.code}`;
      case 'oack': return 'O';
      default: return p.type;
    }
  });
  const ack = async (block: number) => { transfer.receive({ type: 'ack', block }); await settle(); };
  return { content, timers, sent, ends, transfer, drain, ack };
}

test('lockstep: a 1000-byte file is two blocks, the last one short', async () => {
  const h = harness({ size: 1000 });
  h.transfer.start();
  await settle();
  assert.deepEqual(h.drain(), ['D1:512']);
  await h.ack(1);
  assert.deepEqual(h.drain(), ['D2:488']);
  await h.ack(2);
  assert.deepEqual(h.drain(), []);
  assert.equal(h.ends.length, 1);
  assert.equal(h.ends[0]!.ok, true);
  assert.equal(h.ends[0]!.bytes, 1000);
  assert.equal(h.timers.pendingCount, 0, 'no timer left behind');
});

test('a file that is an exact multiple of blksize ends with an empty block', async () => {
  const h = harness({ size: 1024 });
  h.transfer.start();
  await settle();
  await h.ack(1);
  await h.ack(2);
  assert.deepEqual(h.drain(), ['D1:512', 'D2:512', 'D3:0']);
  assert.equal(h.ends.length, 0, 'not done before the empty block is acknowledged');
  await h.ack(3);
  assert.equal(h.ends[0]?.ok, true);
  assert.equal(h.ends[0]?.bytes, 1024);
});

test('an empty file is one empty block', async () => {
  const h = harness({ size: 0 });
  h.transfer.start();
  await settle();
  assert.deepEqual(h.drain(), ['D1:0']);
  await h.ack(1);
  assert.equal(h.ends[0]?.ok, true);
});

test('the DATA payload is the file content', async () => {
  const h = harness({ size: 700, blksize: 256, windowsize: 8 });
  h.transfer.start();
  await settle();
  const got = Buffer.concat(h.sent.map((p) => (p.type === 'data' ? p.data : Buffer.alloc(0))));
  assert.deepEqual(got, h.content);
});

test('with an OACK, data waits for ACK 0 and strays are ignored', async () => {
  const h = harness({ size: 10, oack: [{ name: 'tsize', value: '10' }] });
  h.transfer.start();
  await settle();
  assert.deepEqual(h.drain(), ['O']);
  await h.ack(1);
  assert.deepEqual(h.drain(), []);
  h.timers.advance(1000);
  assert.deepEqual(h.drain(), ['O'], 'the OACK is retransmitted on timeout');
  await h.ack(0);
  assert.deepEqual(h.drain(), ['D1:10']);
  await h.ack(0);
  assert.deepEqual(h.drain(), [], 'a repeated ACK 0 sends nothing');
  await h.ack(1);
  assert.equal(h.ends[0]?.ok, true);
});

test('windowsize 4 sends four blocks per ACK of the window end', async () => {
  const h = harness({ size: 80, blksize: 8, windowsize: 4 });
  h.transfer.start();
  await settle();
  assert.deepEqual(h.drain(), ['D1:8', 'D2:8', 'D3:8', 'D4:8']);
  await h.ack(4);
  assert.deepEqual(h.drain(), ['D5:8', 'D6:8', 'D7:8', 'D8:8']);
  await h.ack(8);
  // 80 bytes = 10 full blocks, so block 11 is the empty terminator.
  assert.deepEqual(h.drain(), ['D9:8', 'D10:8', 'D11:0']);
  await h.ack(11);
  assert.equal(h.ends[0]?.ok, true);
});

test('regression, Sorcerer\'s Apprentice (RFC 1123 §4.2.3.1): a duplicate ACK sends nothing', async () => {
  const lockstep = harness({ size: 2000 });
  lockstep.transfer.start();
  await settle();
  await lockstep.ack(1);
  assert.deepEqual(lockstep.drain(), ['D1:512', 'D2:512']);
  await lockstep.ack(1);
  await lockstep.ack(1);
  assert.deepEqual(lockstep.drain(), []);

  const windowed = harness({ size: 8 * 20, blksize: 8, windowsize: 4 });
  windowed.transfer.start();
  await settle();
  await windowed.ack(4);
  assert.equal(windowed.drain().length, 8);
  await windowed.ack(4);
  assert.deepEqual(windowed.drain(), [], 'a repeat of the previous window-end ACK is no partial ACK');
});

test('a partial ACK inside the window (RFC 7440 §4) restarts the window after it, once', async () => {
  const h = harness({ size: 8 * 20, blksize: 8, windowsize: 4 });
  h.transfer.start();
  await settle();
  h.drain();
  await h.ack(2);
  assert.deepEqual(h.drain(), ['D3:8', 'D4:8', 'D5:8', 'D6:8']);
  await h.ack(2);
  assert.deepEqual(h.drain(), [], 'the same partial ACK again is a duplicate');
  await h.ack(1);
  assert.deepEqual(h.drain(), [], 'an older ACK is ignored');
  await h.ack(9);
  assert.deepEqual(h.drain(), [], 'an ACK for a block never sent is ignored');
  await h.ack(6);
  assert.deepEqual(h.drain(), ['D7:8', 'D8:8', 'D9:8', 'D10:8']);
});

test('timeouts retransmit the window from the last ACK, then give up after the retry limit', async () => {
  const h = harness({ size: 8 * 10, blksize: 8, windowsize: 2, retries: 3 });
  h.transfer.start();
  await settle();
  await h.ack(1);
  assert.deepEqual(h.drain(), ['D1:8', 'D2:8', 'D2:8', 'D3:8']);
  for (let i = 0; i < 3; i++) {
    h.timers.advance(999);
    await settle();
    assert.deepEqual(h.drain(), []);
    h.timers.advance(1);
    await settle();
    assert.deepEqual(h.drain(), ['D2:8', 'D3:8'], `retransmission ${i + 1}`);
  }
  h.timers.advance(1000);
  await settle();
  assert.deepEqual(h.drain(), ['E0']);
  const end = h.ends[0];
  assert.ok(end && !end.ok);
  assert.equal(end.reason, 'timeout');
  assert.equal(end.retransmits, 3);
  assert.equal(end.bytes, 8);
});

test('an ACK resets the retry count', async () => {
  const h = harness({ size: 8 * 10, blksize: 8, retries: 1 });
  h.transfer.start();
  await settle();
  h.timers.advance(1000);
  await settle();
  await h.ack(1);
  h.timers.advance(1000);
  await settle();
  assert.equal(h.ends.length, 0);
  assert.deepEqual(h.drain(), ['D1:8', 'D1:8', 'D2:8', 'D2:8']);
});

test('a client that never acknowledges gets the first block once more, then one ERROR: a spoofed RRQ reflects little', async () => {
  const h = harness({ size: 8 * 512, retries: 5 });
  h.transfer.start();
  await settle();
  assert.deepEqual(h.drain(), ['D1:512']);
  h.timers.advance(1000);
  await settle();
  assert.deepEqual(h.drain(), ['D1:512'], 'one retransmission');
  h.timers.advance(1000);
  await settle();
  assert.deepEqual(h.drain(), ['E0'], 'then it gives up, long before its 5 retries');
  const end = h.ends[0];
  assert.ok(end && !end.ok && end.reason === 'timeout');
  assert.match(end.error, /acknowledged nothing after 1 retransmission/);
  assert.equal(end.retransmits, 1);
  assert.equal(h.timers.pendingCount, 0);
});

test('an OACK nobody acknowledges is sent twice; after ACK 0 the client gets the full retry schedule', async () => {
  const silent = harness({ size: 100, retries: 5, oack: [{ name: 'blksize', value: '512' }] });
  silent.transfer.start();
  silent.timers.advance(1000);
  silent.timers.advance(1000);
  await settle();
  assert.deepEqual(silent.drain(), ['O', 'O', 'E0']);

  const proven = harness({ size: 100, retries: 5, oack: [{ name: 'blksize', value: '512' }] });
  proven.transfer.start();
  await proven.ack(0);
  assert.deepEqual(proven.drain(), ['O', 'D1:100']);
  for (let i = 0; i < 5; i++) {
    proven.timers.advance(1000);
    await settle();
  }
  assert.deepEqual(proven.drain(), ['D1:100', 'D1:100', 'D1:100', 'D1:100', 'D1:100'], 'five retransmissions once ACK 0 came');
  assert.equal(proven.ends.length, 0);
  proven.timers.advance(1000);
  await settle();
  assert.deepEqual(proven.drain(), ['E0']);
});

test('block numbers roll over from 65535 to 0', async () => {
  const blocks = 70_000;
  const h = harness({ size: 8 * blocks + 3, blksize: 8, windowsize: 64 });
  h.transfer.start();
  await settle();
  const wire: number[] = [];
  while (h.ends.length === 0) {
    const batch = h.sent.splice(0);
    assert.ok(batch.length > 0, 'the transfer stalled');
    for (const p of batch) if (p.type === 'data') wire.push(p.block);
    await h.ack(wire.at(-1)!);
  }
  assert.equal(h.ends[0]?.ok, true);
  assert.equal(wire.length, blocks + 1);
  assert.deepEqual(wire.slice(65533, 65538), [65534, 65535, 0, 1, 2]);
  assert.equal(h.ends[0]?.bytes, 8 * blocks + 3);
});

test('an ERROR from the client (code 8, option refused) ends the transfer without a reply', async () => {
  const h = harness({ size: 10, oack: [{ name: 'blksize', value: '8' }] });
  h.transfer.start();
  h.drain();
  h.transfer.receive({ type: 'error', code: 8, message: 'bad blksize' });
  assert.deepEqual(h.drain(), []);
  const end = h.ends[0];
  assert.ok(end && !end.ok && end.reason === 'peer-error');
  assert.match(end.error, /ERROR 8: bad blksize/);
  assert.equal(h.timers.pendingCount, 0);
});

test('a DATA or request from the client gets ERROR 4 and ends the transfer', async () => {
  const h = harness({ size: 10 });
  h.transfer.start();
  await settle();
  h.drain();
  h.transfer.receive({ type: 'data', block: 1, data: new Uint8Array(0) });
  assert.deepEqual(h.drain(), ['E4']);
  assert.equal(h.ends[0]?.ok, false);
});

test('a failing or short read ends with ERROR 0 rather than a truncated file', async () => {
  const failing = harness({ source: { size: 100, read: async () => { throw new Error('EIO'); }, close: async () => {} } });
  failing.transfer.start();
  await settle();
  assert.deepEqual(failing.drain(), ['E0']);
  assert.ok(failing.ends[0] && !failing.ends[0].ok && failing.ends[0].reason === 'read-error');

  const shrunk = harness({ source: { size: 2000, read: async () => Buffer.alloc(10), close: async () => {} } });
  shrunk.transfer.start();
  await settle();
  assert.deepEqual(shrunk.drain(), ['E0']);
  assert.match(shrunk.ends[0] && !shrunk.ends[0].ok ? shrunk.ends[0].error : '', /got 10 of 512/);
});

test('a large source streams in bounded reads and the source is closed at the end', async () => {
  const size = 32 * 1024 * 1024 + 5;
  let largestRead = 0;
  let totalRead = 0;
  let closed = 0;
  const source: SizedReader = {
    size,
    read: async (offset, length) => {
      largestRead = Math.max(largestRead, length);
      totalRead += length;
      return Buffer.alloc(Math.min(length, size - offset));
    },
    close: async () => { closed++; },
  };
  const h = harness({ source, blksize: 8192, windowsize: 16 });
  h.transfer.start();
  await settle();
  let last = 0;
  while (h.ends.length === 0) {
    for (const p of h.sent.splice(0)) if (p.type === 'data') last = p.block;
    await h.ack(last);
  }
  assert.equal(h.ends[0]?.ok, true);
  assert.ok(largestRead <= 128 * 1024, `largest read ${largestRead}`);
  assert.equal(totalRead, size);
  assert.equal(closed, 1);
});

test('abort tells the peer when asked and reports once', async () => {
  const h = harness({ size: 10 });
  h.transfer.start();
  await settle();
  h.drain();
  h.transfer.abort('server stopping', { code: 0, message: 'Server shutting down' });
  h.transfer.abort('again');
  assert.deepEqual(h.drain(), ['E0']);
  assert.equal(h.ends.length, 1);
  await h.ack(1);
  assert.equal(h.ends.length, 1);
});

test('an ACK for the previous copy of a window counts even while the next read is pending', async () => {
  const blksize = 32 * 1024;
  const content = Buffer.alloc(blksize * 10, 1);
  const pending: Array<() => void> = [];
  const source: SizedReader = {
    size: content.length,
    read: (offset, length) => new Promise((resolve) => pending.push(() => resolve(content.subarray(offset, offset + length)))),
    close: async () => {},
  };
  const h = harness({ source, blksize, windowsize: 4 });
  h.transfer.start();
  pending.shift()!();
  await settle();
  assert.deepEqual(h.drain(), ['D1:32768', 'D2:32768', 'D3:32768', 'D4:32768']);
  await h.ack(2); // partial ACK: restart from 3, which needs a read past the first chunk
  assert.equal(pending.length, 1);
  await h.ack(4); // the client got 3 and 4 from the first copy after all
  assert.equal(pending.length, 2);
  pending.shift()!();
  await settle();
  assert.deepEqual(h.drain(), [], 'the superseded read sends nothing');
  pending.shift()!();
  await settle();
  assert.deepEqual(h.drain(), ['D5:32768', 'D6:32768', 'D7:32768', 'D8:32768']);
});

test('an ACK whose next window is in memory is answered in the same turn, with no promise in between', async () => {
  const h = harness({ size: 64 * 1024, blksize: 1024, windowsize: 4 });
  h.transfer.start();
  await settle();
  assert.deepEqual(h.drain(), ['D1:1024', 'D2:1024', 'D3:1024', 'D4:1024']);
  // No settle: the next window must already have gone out when receive() returns.
  h.transfer.receive({ type: 'ack', block: 4 });
  assert.deepEqual(h.drain(), ['D5:1024', 'D6:1024', 'D7:1024', 'D8:1024']);
  h.transfer.receiveAck(8);
  assert.deepEqual(h.drain(), ['D9:1024', 'D10:1024', 'D11:1024', 'D12:1024']);
  for (let block = 12; block < 64; block += 4) {
    await h.ack(block);
    assert.equal(h.drain().length, 4);
  }
  await h.ack(64);
  assert.deepEqual(h.drain(), ['D65:0']);
  await h.ack(65);
  assert.equal(h.ends[0]?.ok, true);
  assert.equal(h.ends[0]?.bytes, 64 * 1024);
});
