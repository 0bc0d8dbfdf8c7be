import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { postgresFixture } from '../testing/postgres-fixture.js';
import { Database } from './database.js';
import { PgBootEvents } from './boot-events.js';
import { PgRunningVersions } from './running-versions.js';
import { PgDiscovered, readDiscoveredRows } from './discovered.js';
import type { NewBootEvent } from '../events/boot-event.js';
import { waitUntil } from '../testing/wait-until.js';

const pg = postgresFixture();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const event = (i: number): NewBootEvent => ({ time: 1_000 + i, mac: '52:54:00:15:00:01', kind: 'stage', name: `s${i}`, detail: '', fields: { status: 'ok' } });

async function open(cfg: Parameters<typeof Database.open>[0]): Promise<Database> {
  const db = await Database.open(cfg);
  cleanups.push(() => db.close());
  return db;
}

describe("boot events and running versions shared through the database", () => {
  it("each server gets every other server's events once, in order, never its own; a restart resumes where it stopped; the database's absence delays, never loses", async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const a = await PgBootEvents.open(await open(cfg), { server: '10.0.0.1', pageSize: 50 });
    cleanups.push(() => a.close());
    const got: { a: string[]; b: string[] } = { a: [], b: [] };
    await a.attach((e) => got.a.push(`${e.fields.server} ${e.name}`));
    const dbB = await open(cfg);
    let b = await PgBootEvents.open(dbB, { server: '10.0.0.2', pageSize: 50 });
    await b.attach((e) => got.b.push(`${e.fields.server} ${e.name}`));
    for (let i = 0; i < 120; i++) a.publish(event(i));
    b.publish(event(1000));
    await waitUntil('B to have all of A', () => got.b.length === 120, 10_000);
    assert.deepEqual(got.b, Array.from({ length: 120 }, (_, i) => `10.0.0.1 s${i}`));
    await waitUntil('A to have B', () => got.a.length === 1, 10_000);
    assert.deepEqual(got.a, ['10.0.0.2 s1000']);

    // B stops; A goes on; B started again reads what it missed, and only that.
    await b.close();
    for (let i = 120; i < 130; i++) a.publish(event(i));
    await a.flush();
    got.b = [];
    b = await PgBootEvents.open(dbB, { server: '10.0.0.2', pageSize: 50 });
    cleanups.push(() => b.close());
    await b.attach((e) => got.b.push(`${e.fields.server} ${e.name}`));
    assert.deepEqual(got.b, Array.from({ length: 10 }, (_, i) => `10.0.0.1 s${120 + i}`));

    // The database away: A keeps its events and stores them when it returns.
    await cluster.stopServer();
    try {
      for (let i = 130; i < 133; i++) a.publish(event(i));
    } finally {
      await cluster.startServer();
    }
    await waitUntil("B to get A's events held while the database was away", () => got.b.length === 13, 30_000);
    assert.deepEqual(got.b.slice(10), ['10.0.0.1 s130', '10.0.0.1 s131', '10.0.0.1 s132']);
  });

  it('a version handed out by one server is seen running by every server', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const a = await PgRunningVersions.open(await open(cfg));
    const b = await PgRunningVersions.open(await open(cfg));
    cleanups.push(() => a.detach(), () => b.detach());
    await a.record('52:54:00:15:00:01', 'bookworm', '3');
    await waitUntil('B to hear of it', () => b.all().get('52:54:00:15:00:01')?.version === '3', 5000);
    assert.deepEqual(b.runners('bookworm', '3'), ['52:54:00:15:00:01']);
    // A server started later reads it from the table.
    const c = await PgRunningVersions.open(await open(cfg));
    cleanups.push(() => c.detach());
    assert.deepEqual(c.runners('bookworm', '3'), ['52:54:00:15:00:01']);
  });

  it('a machine seen by two servers is one discovered machine on both, its sightings added up', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const a = await PgDiscovered.open(await open(cfg), { writeIntervalMs: 50 });
    const b = await PgDiscovered.open(await open(cfg), { writeIntervalMs: 50 });
    cleanups.push(() => a.close(), () => b.close());
    const m = '52:54:00:15:99:01';
    a.record({ mac: m, vendorClass: 'PXEClient:Arch:00007:UNDI:003016', ip: '10.0.0.50' });
    a.record({ mac: m });
    b.record({ mac: m, userClass: 'iPXE' });
    await Promise.all([a.flush(), b.flush()]);
    for (const [name, s] of [['A', a], ['B', b]] as const) {
      await waitUntil(`${name} to count every sighting`, () => s.list().find((x) => x.mac === m)?.count === 3, 5000);
      const seen = s.list().find((x) => x.mac === m)!;
      assert.equal(seen.vendorClass, 'PXEClient:Arch:00007:UNDI:003016', name);
      assert.equal(seen.userClass, 'iPXE', name);
      assert.equal(seen.lastIp, '10.0.0.50', name);
    }
    assert.deepEqual([...(await readDiscoveredRows(await open(cfg))).values()].map((x) => [x.mac, x.count]), [[m, 3]]);
  });
});
