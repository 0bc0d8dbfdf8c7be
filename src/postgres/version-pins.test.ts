import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postgresFixture } from '../testing/postgres-fixture.js';
import { waitUntil } from '../testing/wait-until.js';
import { Database } from './database.js';
import { PgVersionPins } from './version-pins.js';

const pg = postgresFixture();
const MAC = '52:54:00:17:00:01';
const V1 = '0123456789abcdef';
const V2 = 'fedcba9876543210';

test('version pins in the database: one server pins, the other follows at once; unpins too; a new reader reads them back', async () => {
  const cluster = await pg.cluster();
  const cfg = await cluster.database();
  const [dbA, dbB, dbC] = await Promise.all([Database.open(cfg), Database.open(cfg), Database.open(cfg)]);
  try {
    const [a, b] = await Promise.all([PgVersionPins.open(dbA), PgVersionPins.open(dbB)]);
    await a.set(MAC, 'deb', V1, 'rollout r1');
    assert.equal(a.get(MAC, 'deb'), V1, 'the pin holds on its own server once set() resolves');
    await waitUntil('server B hearing the pin', () => b.get(MAC, 'deb') === V1);
    assert.equal(b.get(MAC, 'other'), undefined, 'a pin holds for its image only');
    assert.deepEqual(b.pinnedTo('deb', V1), [MAC]);
    assert.equal(b.all().get(MAC)?.by, 'rollout r1');
    // B moves it on (a rollback from B's rollout), then drops it; A follows each step.
    await b.set(MAC, 'deb', V2, 'rollout r2');
    await waitUntil('server A hearing the new pin', () => a.get(MAC, 'deb') === V2);
    const c = await PgVersionPins.open(dbC);
    assert.equal(c.get(MAC, 'deb'), V2, 'read back from the table');
    await b.set(MAC, 'deb', null, 'unpin');
    await waitUntil('server A hearing the unpin', () => a.get(MAC, 'deb') === undefined);
    await c.reload();
    assert.equal(c.all().size, 0);
    await assert.rejects(a.set(MAC, 'deb', 'not-a-version', 'x'), /not a stored version/);
    a.detach();
    b.detach();
    c.detach();
  } finally {
    await Promise.all([dbA.close(), dbB.close(), dbC.close()]);
  }
});
