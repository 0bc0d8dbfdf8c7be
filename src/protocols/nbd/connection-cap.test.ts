import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Command, GREETING_BYTES, Option } from './constants.js';
import type { NbdEvent } from './events.js';
import { bufferExport, staticExports } from './exports.js';
import { NbdServer } from './server.js';
import { RawClient } from './testdata/raw-client.js';
import { countingLogger } from '../../testing/counting-logger.js';

const image = randomBytes(64 * 1024 + 7);
const EXTRA = 4;

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('Condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Connects and reports whether the server greeted (admitted) or closed at once (refused). */
async function knock(port: number): Promise<{ client: RawClient; admitted: boolean }> {
  const client = await RawClient.connect(port);
  const admitted = await client.read(GREETING_BYTES).then(() => true, () => false);
  return { client, admitted };
}

for (const cap of [1, 3]) {
  test(`maxConnections ${cap}: of ${cap} + ${EXTRA} clients exactly ${cap} are greeted, the rest closed with an error event, and closed connections free their slots`, async () => {
    const logger = countingLogger();
    const events: NbdEvent[] = [];
    const server = new NbdServer({
      address: '127.0.0.1', port: 0, maxConnections: cap, exports: staticExports({ root: bufferExport(image) }), logger,
      onEvent: (e) => events.push(e),
    });
    await server.start();
    const port = server.address().port;
    const all: RawClient[] = [];
    try {
      const knocks = await Promise.all(Array.from({ length: cap + EXTRA }, () => knock(port)));
      all.push(...knocks.map((k) => k.client));
      const admitted = knocks.filter((k) => k.admitted).map((k) => k.client);
      const refused = knocks.filter((k) => !k.admitted);
      assert.equal(admitted.length, cap);
      assert.equal(refused.length, EXTRA);
      for (const r of refused) assert.ok(await r.client.closesWithin(1000), 'a refused client is closed');
      assert.equal(server.connections, cap);
      assert.equal(logger.count('connection refused', 'warn'), EXTRA);
      const refusals = events.filter((e) => e.type === 'error' && /too many connections \(limit \d+\)/.test(e.error ?? ''));
      assert.equal(refusals.length, EXTRA);

      // Slots come back however a connection ends: DISC after reading, ABORT mid-handshake, a reset.
      await Promise.all(admitted.map(async (c, i) => {
        c.write(Buffer.from([0, 0, 0, 3]));
        if (i % 3 === 0) {
          const r = await c.info('root');
          assert.equal(r.final, 1);
          assert.deepEqual((await c.pread(100, 1000)).data, image.subarray(100, 1100));
          c.send({ flags: 0, command: Command.DISC, cookie: 0n, offset: 0n, length: 0 });
          assert.ok(await c.closesWithin(2000));
        } else if (i % 3 === 1) {
          await c.option(Option.ABORT);
          assert.ok(await c.closesWithin(2000));
        } else {
          c.destroy();
        }
      }));
      await until(() => server.connections === 0);

      // Exactly `cap` again: nothing leaked, and the cap has not drifted upwards either.
      const second = await Promise.all(Array.from({ length: cap + 1 }, () => knock(port)));
      all.push(...second.map((k) => k.client));
      assert.equal(second.filter((k) => k.admitted).length, cap);
      for (const k of second.filter((s) => s.admitted)) {
        k.client.write(Buffer.from([0, 0, 0, 3]));
        assert.equal((await k.client.info('root')).final, 1);
        assert.deepEqual((await k.client.pread(image.length - 10, 10)).data, image.subarray(image.length - 10));
      }
    } finally {
      for (const c of all) c.destroy();
      await server.stop();
    }
  });
}
