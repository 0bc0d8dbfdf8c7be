import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes as cryptoBytes } from 'node:crypto';
import { Command, Option } from './constants.js';
import type { NbdEvent } from './events.js';
import { bufferExport, staticExports } from './exports.js';
import { encodeClientFlags } from './greeting.js';
import { encodeInfoRequest, encodeOptionRequest } from './option-request.js';
import { NbdServer } from './server.js';
import { encodeRequest } from './transmission.js';
import { RawClient } from './testdata/raw-client.js';
import * as golden from './testdata/golden.js';
import { countingLogger } from '../../testing/counting-logger.js';
import { canCollectGarbage, MiB, settledHeapUsed } from '../../testing/heap.js';
import { randomBytes, randomInt, seededRandom } from '../../testing/seeded-random.js';

const SEED = 0x0bd5eed;
const HANDSHAKES = 1000;
const BATCH = 50;
const HANDSHAKE_TIMEOUT_MS = 400;

const image = cryptoBytes(256 * 1024 + 5);
const flags = encodeClientFlags(3);
/** An option header claiming `length` bytes of data, without the data. */
function optionHeader(option: number, length: number): Buffer {
  const h = encodeOptionRequest(option).subarray(0, 16);
  h.writeUInt32BE(length, 12);
  return h;
}

/** How a bad client behaves after connecting: what it writes, then how it leaves. */
interface Plan {
  readonly bytes: Uint8Array;
  /** 'end': half-close and wait; 'reset': destroy at once; 'stay': say nothing more (the timeout must act). */
  readonly leave: 'end' | 'reset' | 'stay';
}

/** Garbage, truncated and oversized handshakes, chosen by the seeded generator. */
function plan(random: () => number): Plan {
  const go = encodeOptionRequest(Option.GO, encodeInfoRequest('root', [1, 3]));
  switch (randomInt(random, 14)) {
    case 0: return { bytes: randomBytes(random, 1 + randomInt(random, 300)), leave: 'end' };
    case 1: return { bytes: Buffer.concat([flags, randomBytes(random, 16)]), leave: 'end' };                  // bad option magic
    case 2: return { bytes: encodeClientFlags(0x80000000 | randomInt(random, 0xffff)), leave: 'end' };       // unknown flags
    case 3: return { bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), leave: 'end' };                // wrong protocol
    case 4: return { bytes: Buffer.concat([flags, encodeRequest({ flags: 0, command: Command.READ, cookie: 1n, offset: 0n, length: 1 })]), leave: 'end' };
    case 5: return { bytes: flags.subarray(0, randomInt(random, 4)), leave: 'end' };                          // truncated flags
    case 6: return { bytes: Buffer.concat([flags, go.subarray(0, randomInt(random, go.length))]), leave: 'end' }; // truncated option
    case 7: return { bytes: Buffer.concat([flags, go.subarray(0, randomInt(random, go.length))]), leave: 'stay' };
    case 8: return { bytes: Buffer.concat([flags, optionHeader(Option.GO, 0xffffffff)]), leave: 'end' };   // 4 GiB of option data
    case 9: return { bytes: Buffer.concat([flags, optionHeader(Option.EXPORT_NAME, 0xfffffff0 + randomInt(random, 16))]), leave: 'end' };
    case 10: return { bytes: Buffer.concat([flags, optionHeader(Option.INFO, 70_000), randomBytes(random, 70_000)]), leave: 'end' }; // over the 64 KiB cap, actually sent
    case 11: {
      // GO whose name length claims 4 GiB inside 14 bytes of data.
      const data = Buffer.from(golden.optionGo.subarray(16));
      data.writeUInt32BE(0xffffffff - randomInt(random, 4), 0);
      return { bytes: Buffer.concat([flags, encodeOptionRequest(Option.GO, data)]), leave: 'end' };
    }
    case 12: return { bytes: Buffer.concat([flags, go.subarray(0, randomInt(random, go.length))]), leave: 'reset' };
    default: return { bytes: Buffer.concat([flags, randomBytes(random, 64 * 1024 + randomInt(random, 64 * 1024))]), leave: 'end' };
  }
}

async function badClient(port: number, p: Plan, i: number, from: string): Promise<void> {
  const c = await RawClient.connect(port, '127.0.0.1', from);
  if (p.bytes.length > 0) c.write(p.bytes);
  if (p.leave === 'reset') {
    c.destroy();
    return;
  }
  if (p.leave === 'end') c.socket.end();
  assert.ok(await c.closesWithin(HANDSHAKE_TIMEOUT_MS + 3000), `seed ${SEED.toString(16)} handshake ${i} (${p.leave}, ${p.bytes.length} bytes) left open`);
  c.destroy();
}

test(`${HANDSHAKES} garbage, truncated and oversized NBD handshakes: all closed, nothing leaked, a client still reads (seed ${SEED.toString(16)})`, async () => {
  const logger = countingLogger();
  const events = new Map<NbdEvent['type'], number>();
  const server = new NbdServer({
    address: '127.0.0.1',
    port: 0,
    exports: staticExports({ root: bufferExport(image) }),
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    logger,
    onEvent: (e) => events.set(e.type, (events.get(e.type) ?? 0) + 1),
  });
  await server.start();
  const port = server.address().port;
  const random = seededRandom(SEED);
  /**
   * BATCH clients at a time; plans are drawn up front so the seed alone decides them. Each
   * worker is its own host (loopback address): this measures handshakes, not the per-address
   * cap (peer-cap.test.ts).
   */
  const flood = async (count: number): Promise<void> => {
    const plans = Array.from({ length: count }, () => plan(random));
    let next = 0;
    const worker = async (w: number): Promise<void> => {
      for (let i = next++; i < count; i = next++) await badClient(port, plans[i]!, i, `127.0.2.${w + 1}`);
    };
    await Promise.all(Array.from({ length: BATCH }, (_, w) => worker(w)));
  };
  const closedByServer = async (): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (server.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(server.connections, 0, 'connections left open on the server');
  };
  const readsCorrectly = async (): Promise<void> => {
    const c = await RawClient.connect(port);
    assert.equal(await c.attach('root'), BigInt(image.length));
    for (const [offset, length] of [[0, 4096], [image.length - 999, 999], [12345, 65536]] as const) {
      assert.deepEqual((await c.pread(offset, length)).data, image.subarray(offset, offset + length));
    }
    c.destroy();
  };
  try {
    await flood(100); // warm-up, so the baseline includes JIT code and socket machinery
    await closedByServer();
    await readsCorrectly();
    await closedByServer();
    const baseline = await settledHeapUsed();
    events.clear();

    const started = Date.now();
    await flood(HANDSHAKES);
    await closedByServer();
    const floodMs = Date.now() - started;
    // A connection that ended with our FIN keeps its socket for LINGER_MS (5 s, connection.ts)
    // in case the peer never closes; waiting that out separates retention from a leak, and
    // lets the margin be tight enough to catch a kilobyte per connection.
    await new Promise((r) => setTimeout(r, 5500));
    const after = await settledHeapUsed();
    console.log(`nbd flood: ${HANDSHAKES} handshakes in ${floodMs} ms; heap ${((after - baseline) / MiB).toFixed(2)} MiB over baseline (gc: ${canCollectGarbage})`);
    // Every connection was accepted, and each ended with exactly one closing event.
    assert.equal(events.get('connect'), HANDSHAKES);
    assert.equal((events.get('error') ?? 0) + (events.get('disconnect') ?? 0), HANDSHAKES);
    assert.equal(events.get('attach'), undefined, 'no garbage handshake attached an export');
    assert.equal(logger.total('error'), 0, 'no internal errors');
    assert.ok(after - baseline < (canCollectGarbage ? 2 * MiB : 48 * MiB), `heap grew ${((after - baseline) / MiB).toFixed(1)} MiB over the flood`);

    await readsCorrectly();
  } finally {
    await server.stop();
  }
});
