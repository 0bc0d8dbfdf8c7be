import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { postgresFixture } from '../testing/postgres-fixture.js';
import { Database } from './database.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import { DisklessError } from '../errors/diskless-error.js';
import { waitUntil } from '../testing/wait-until.js';

const pg = postgresFixture();

describe('state database (a real PostgreSQL)', () => {
  it('migrates an empty database to the newest schema once, and again changes nothing', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const db = await Database.open(cfg);
    await db.close();
    const again = await Database.open(cfg);
    await again.close();
    const rows = await cluster.sql(cfg.database, 'SELECT version, description FROM diskless_schema ORDER BY version');
    assert.deepEqual(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
    assert.equal(rows.at(-1)?.version, SCHEMA_VERSION);
  });

  it('two servers starting together migrate once between them', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const [a, b] = await Promise.all([Database.open(cfg), Database.open(cfg)]);
    await Promise.all([a.close(), b.close()]);
    const rows = await cluster.sql(cfg.database, 'SELECT count(*)::int AS n FROM diskless_schema');
    assert.equal(rows[0]?.n, MIGRATIONS.length);
  });

  it('refuses a database whose schema is newer than this server knows', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    await (await Database.open(cfg)).close();
    await cluster.sql(cfg.database, `INSERT INTO diskless_schema (version, description) VALUES (${SCHEMA_VERSION + 1}, 'from the future')`);
    await assert.rejects(Database.open(cfg), (e: unknown) => {
      assert.ok(e instanceof DisklessError);
      assert.equal(e.code, 'DL_DATABASE');
      assert.match(e.message, new RegExp(`schema is version ${SCHEMA_VERSION + 1}, newer than this server's ${SCHEMA_VERSION}; upgrade diskless`));
      return true;
    });
  });

  it('connects over TLS, verifying the certificate, with the password from a file', async () => {
    const cluster = await pg.cluster();
    const { database } = await cluster.database();
    const db = await Database.open(cluster.tlsConfig(database));
    try {
      const rows = await db.query<{ ssl: boolean; usename: string }>(
        'SELECT ssl, usename FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE pid = pg_backend_pid()');
      assert.deepEqual(rows, [{ ssl: true, usename: 'diskless' }]);
    } finally {
      await db.close();
    }
  });

  it('says what is wrong: a wrong password, an unknown CA, a missing password file', async () => {
    const cluster = await pg.cluster();
    const { database } = await cluster.database();
    const wrong = join(cluster.dir, 'wrong-password');
    writeFileSync(wrong, 'nope\n');
    chmodSync(wrong, 0o600);
    await assert.rejects(Database.open({ ...cluster.tlsConfig(database), passwordFile: wrong }), /password authentication failed.*check state\.password_file/);
    const { caFile: _ca, ...noCa } = cluster.tlsConfig(database);
    await assert.rejects(Database.open(noCa), /Cannot connect to the state database postgres:\/\/diskless@127\.0\.0\.1:\d+\/\w+: .*certificate.*state\.ca_file/);
    await assert.rejects(Database.open({ ...cluster.tlsConfig(database), passwordFile: join(cluster.dir, 'missing') }), /Cannot read the database password from .*missing \(state\.password_file\)/);
  });

  it('delivers notifications, and after a database restart reconnects and asks for a resync', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const a = await Database.open(cfg);
    const b = await Database.open(cfg);
    try {
      const heard: string[] = [];
      let resyncs = 0;
      await b.listen('diskless_test', (p) => heard.push(p));
      b.onResync(() => resyncs++);
      await a.notify('diskless_test', 'one');
      await waitUntil('the notification', () => heard.includes('one'));
      await cluster.restart();
      await waitUntil('the listener to reconnect', () => resyncs === 1 && b.listening, 30_000);
      // The pool's old connections died with the server; the next query opens a new one.
      await a.notify('diskless_test', 'two');
      await waitUntil('the notification after the restart', () => heard.includes('two'));
    } finally {
      await a.close();
      await b.close();
    }
  });
});
