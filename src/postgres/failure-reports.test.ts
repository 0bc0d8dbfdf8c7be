import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { postgresFixture } from '../testing/postgres-fixture.js';
import { waitUntil } from '../testing/wait-until.js';
import { Database } from './database.js';
import { FAILURE_REPORTS_CHANNEL, PgFailureReports } from './failure-reports.js';

const pg = postgresFixture();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function open(cfg: Parameters<typeof Database.open>[0], server: string, maxEntries = 256): Promise<PgFailureReports> {
  const db = await Database.open(cfg);
  cleanups.push(() => db.close());
  const r = await PgFailureReports.open(db, { server, maxEntries });
  cleanups.push(async () => {
    await r.flush();
    r.detach();
  });
  return r;
}

const MAC = (i: number) => `52:54:00:15:0d:${i.toString(16).padStart(2, '0')}`;

describe('failure reports shared through the database', () => {
  it("a report received by one server is served by every other, cleaned; the newest are kept; one received while the database is away is written when it is back", async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const a = await open(cfg, '10.0.0.1', 3);
    const b = await open(cfg, '10.0.0.2', 3);

    const kept = a.put({ mac: MAC(1), stage: 'root', cause: 'no root\nat all', text: 'log \x1b[31mred\x1b[0m rd.diskless.token=abc line' });
    assert.equal(kept.cause, 'no root at all');
    assert.equal(kept.text, 'log ?[31mred?[0m rd.diskless.token=(removed) line');
    await waitUntil("B to hold A's report", () => b.get(MAC(1)) !== undefined, 10_000);
    assert.deepEqual(b.get(MAC(1)), kept);
    const rows = await cluster.sql(cfg.database, 'SELECT mac, server FROM failure_reports');
    assert.deepEqual(rows, [{ mac: MAC(1), server: '10.0.0.1' }]);

    // The same machine again, through B: both serve the newer one.
    const again = b.put({ mac: MAC(1), stage: 'identity', cause: 'token refused', text: 'second' });
    await waitUntil("A to hold B's newer report", () => a.get(MAC(1))?.text === 'second', 10_000);
    assert.deepEqual(a.get(MAC(1)), again);

    // At most 3 machines: the oldest goes, in the database and in every copy.
    for (let i = 2; i <= 4; i++) {
      a.put({ mac: MAC(i), stage: 'modules', cause: `c${i}`, text: `t${i}` });
      await new Promise((r) => setTimeout(r, 5)); // distinct received times, which order them
    }
    await a.flush();
    const macs = (await cluster.sql(cfg.database, 'SELECT mac FROM failure_reports ORDER BY mac')).map((r) => (r as { mac: string }).mac);
    assert.deepEqual(macs, [MAC(2), MAC(3), MAC(4)]);
    await waitUntil('B to hold the three newest', () => b.get(MAC(4)) !== undefined && b.size === 3, 10_000);
    assert.equal(b.get(MAC(1)), undefined);

    // The database away: A serves the report at once and writes it when the database is back.
    await cluster.stopServer();
    let held;
    try {
      held = a.put({ mac: MAC(5), stage: 'overlay', cause: 'disk', text: 'while away' });
      assert.deepEqual(a.get(MAC(5)), held);
    } finally {
      await cluster.startServer();
    }
    await waitUntil('B to get the report A held while the database was away', () => b.get(MAC(5))?.text === 'while away', 30_000);
    assert.deepEqual(b.get(MAC(5)), held);
  });

  it('a notice read back late (an older report this copy had dropped) does not push out newer ones', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    // A keeps four machines, B three: the database holds the oldest one B has dropped.
    const a = await open(cfg, '10.0.0.1', 4);
    const b = await open(cfg, '10.0.0.2', 3);
    for (let i = 1; i <= 4; i++) {
      a.put({ mac: MAC(i), stage: 'root', cause: `c${i}`, text: `t${i}` });
      await new Promise((r) => setTimeout(r, 5)); // distinct received times, which order them
    }
    await a.flush();
    await waitUntil('B to hold the three newest', () => [2, 3, 4].every((i) => b.get(MAC(i)) !== undefined), 10_000);
    // The first machine's notice again, as when its reread is answered after newer ones.
    await cluster.sql(cfg.database, `SELECT pg_notify('${FAILURE_REPORTS_CHANNEL}', '${MAC(1)}')`);
    a.put({ mac: MAC(5), stage: 'root', cause: 'c5', text: 't5' });
    await a.flush();
    await waitUntil('B to hold the newest', () => b.get(MAC(5)) !== undefined, 10_000);
    await waitUntil('B to settle at three', () => b.size === 3, 10_000);
    assert.equal(b.get(MAC(1)), undefined, 'the oldest stays out');
    assert.deepEqual([3, 4, 5].map((i) => b.get(MAC(i))?.text), ['t3', 't4', 't5']);
  });
});
