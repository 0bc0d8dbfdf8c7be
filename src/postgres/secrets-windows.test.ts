import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { postgresFixture } from '../testing/postgres-fixture.js';
import { Database } from './database.js';
import { PgSecretsWindows } from './secrets-windows.js';
import { waitUntil } from '../testing/wait-until.js';

const pg = postgresFixture();
const MAC = '52:54:00:15:00:01';

describe('secrets windows shared through the database', () => {
  it('a window opened on one server is open on the other within a second; closing it anywhere closes it everywhere', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const [dbA, dbB] = await Promise.all([Database.open(cfg), Database.open(cfg)]);
    const a = await PgSecretsWindows.open(dbA, { windowMs: 60_000 });
    const b = await PgSecretsWindows.open(dbB, { windowMs: 60_000 });
    try {
      a.openFor(MAC, '10.77.0.50');
      const t0 = Date.now();
      await waitUntil('B to see the window A opened', () => b.get(MAC) !== undefined, 5000);
      assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
      assert.deepEqual(b.get(MAC), a.get(MAC));
      assert.equal(b.get(MAC)?.ip, '10.77.0.50');
      // A third server starting now reads it from the table.
      const dbC = await Database.open(cfg);
      const c = await PgSecretsWindows.open(dbC, { windowMs: 60_000 });
      await a.flush();
      await c.reload();
      assert.equal(c.get(MAC)?.ip, '10.77.0.50');
      assert.equal(b.close(MAC, 'redeemed'), true);
      await waitUntil('A and C to see it closed', () => a.get(MAC) === undefined && c.get(MAC) === undefined, 5000);
      await b.flush();
      assert.deepEqual(await cluster.sql(cfg.database, 'SELECT mac FROM secrets_windows'), []);
      c.detach();
      await dbC.close();
    } finally {
      a.detach();
      b.detach();
      await Promise.all([dbA.close(), dbB.close()]);
    }
  });

  it('an expired window is not read back', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const db = await Database.open(cfg);
    try {
      await cluster.sql(cfg.database, 'INSERT INTO secrets_windows (mac, opened_at) VALUES ($1, $2)', [MAC, Date.now() - 120_000]);
      const w = await PgSecretsWindows.open(db, { windowMs: 60_000 });
      assert.equal(w.get(MAC), undefined);
      w.detach();
    } finally {
      await db.close();
    }
  });
});
