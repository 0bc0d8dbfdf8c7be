import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { postgresFixture } from '../testing/postgres-fixture.js';
import { Database } from './database.js';
import { PgBootTokens } from './boot-tokens.js';

const pg = postgresFixture();
const MAC = '52:54:00:15:00:02';
const IP = '10.77.0.51';

async function twoServers(o: { ttlMs?: number; now?: () => number } = {}) {
  const cluster = await pg.cluster();
  const cfg = await cluster.database();
  const [dbA, dbB] = await Promise.all([Database.open(cfg), Database.open(cfg)]);
  const opts = { ttlMs: o.ttlMs ?? 60_000, ...(o.now ? { now: o.now } : {}) };
  return {
    cluster, cfg,
    a: new PgBootTokens(dbA, opts),
    b: new PgBootTokens(dbB, opts),
    close: () => Promise.all([dbA.close(), dbB.close()]),
  };
}

describe('boot tokens shared through the database', () => {
  it('a token issued by one server is redeemed once at another, and only its digest is stored', async () => {
    const s = await twoServers();
    try {
      const token = await s.a.issue(MAC, IP);
      const stored = await s.cluster.sql(s.cfg.database, 'SELECT encode(digest, \'hex\') AS d, mac, ip FROM boot_tokens');
      assert.equal(stored.length, 1);
      assert.equal(JSON.stringify(stored).includes(token), false);
      assert.deepEqual(await s.b.redeem(token, { ip: IP, mac: MAC }), { ok: true, mac: MAC });
      // A replay anywhere is an alert, at the issuer as at the redeemer.
      assert.deepEqual(await s.a.redeem(token, { ip: IP, mac: MAC }), { ok: false, reason: 'reused', alert: true, mac: MAC });
      assert.deepEqual(await s.b.redeem('x'.repeat(43), { ip: IP }), { ok: false, reason: 'unknown', alert: false });
    } finally {
      await s.close();
    }
  });

  it('two servers redeeming one token at once: exactly one is accepted', async () => {
    const s = await twoServers();
    try {
      for (let i = 0; i < 20; i++) {
        const token = await s.a.issue(MAC, IP);
        const results = await Promise.all([s.a.redeem(token, { ip: IP }), s.b.redeem(token, { ip: IP })]);
        assert.equal(results.filter((r) => r.ok).length, 1, JSON.stringify(results));
        assert.equal(results.filter((r) => !r.ok && r.reason === 'reused').length, 1);
      }
    } finally {
      await s.close();
    }
  });

  it('a use from another address burns the token; an expired token is refused and forgotten', async () => {
    let now = 1_000_000;
    const s = await twoServers({ ttlMs: 1000, now: () => now });
    try {
      const stolen = await s.a.issue(MAC, IP);
      assert.deepEqual(await s.b.redeem(stolen, { ip: '10.77.0.99' }), { ok: false, reason: 'wrong-address', alert: true, mac: MAC });
      assert.deepEqual(await s.a.redeem(stolen, { ip: IP, mac: MAC }), { ok: false, reason: 'reused', alert: true, mac: MAC });
      const late = await s.a.issue(MAC, IP);
      now += 1000;
      assert.deepEqual(await s.b.redeem(late, { ip: IP }), { ok: false, reason: 'expired', alert: false, mac: MAC });
      assert.deepEqual(await s.b.redeem(late, { ip: IP }), { ok: false, reason: 'unknown', alert: false });
    } finally {
      await s.close();
    }
  });
});
