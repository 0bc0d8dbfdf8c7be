import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresFixture } from '../testing/postgres-fixture.js';
import { Database } from './database.js';
import { PgSecretStore } from './secret-store.js';

const pg = postgresFixture();
const MAC = '52:54:00:15:00:03';
const HASH = '$6$saltsalt$' + 'a'.repeat(86);
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake admin@x';

describe('secrets sealed in the database', () => {
  it('two servers hand a node the same host keys, made once; the database holds nothing in the clear', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const dir = await mkdtemp(join(tmpdir(), 'dl-seckey-'));
    const [dbA, dbB] = await Promise.all([Database.open(cfg), Database.open(cfg)]);
    try {
      // A directory that lets others write it is refused; state_dir as serve makes it (0750) is not.
      const open = join(dir, 'open');
      await mkdir(open, { mode: 0o777 });
      await chmod(open, 0o777);
      await assert.rejects(PgSecretStore.open(dbA, { keyFile: join(open, 'secrets.key') }), /mode 0777 lets group or other write it; run chmod go-w/);
      const stateDir = join(dir, 'a');
      await mkdir(stateDir, { mode: 0o750 });
      await chmod(stateDir, 0o750);
      const keyA = join(stateDir, 'secrets.key');
      const a = await PgSecretStore.open(dbA, { keyFile: keyA });
      assert.equal((await stat(keyA)).mode & 0o777, 0o600);
      const keyB = join(dir, 'b.key');
      // B without the key file is refused, saying what to do; with a copy it opens.
      await assert.rejects(PgSecretStore.open(dbB, { keyFile: keyB }), /key file .*b\.key is missing\. Copy it from another boot server/);
      await writeFile(keyB, await readFile(keyA), { mode: 0o600 });
      const b = await PgSecretStore.open(dbB, { keyFile: keyB });
      // Both at once: one pair per type wins, and both servers answer with it.
      const [ka, kb] = await Promise.all([a.hostKeys(MAC, 'node1'), b.hostKeys(MAC, 'node1')]);
      assert.equal(ka.files.length, 6);
      assert.deepEqual(kb.files, ka.files);
      assert.deepEqual((await a.hostKeys(MAC, 'node1')).files, ka.files);
      await a.setRootPassword('*', HASH);
      await b.setAuthorizedKeys(MAC, KEY);
      assert.equal(await b.rootPasswordHash(MAC), HASH);
      assert.equal(await a.authorizedKeys(MAC), KEY + '\n');
      assert.equal(await a.authorizedKeys('52:54:00:15:00:04'), undefined);
      const dump = JSON.stringify(await cluster.sql(cfg.database, "SELECT node, name, encode(sealed, 'escape') AS s FROM node_secrets"));
      assert.equal(dump.includes('PRIVATE KEY'), false);
      assert.equal(dump.includes('saltsalt'), false);
      assert.equal(dump.includes('AAAAC3Nza'), false);
      const privPem = ka.files.find((f) => f.path === '/etc/ssh/ssh_host_ed25519_key')!.content.toString();
      assert.match(privPem, /BEGIN OPENSSH PRIVATE KEY/);
    } finally {
      await Promise.all([dbA.close(), dbB.close()]);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('another key is refused at open; a sealed secret moved to another node does not open', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const dir = await mkdtemp(join(tmpdir(), 'dl-seckey-'));
    const db = await Database.open(cfg);
    try {
      const s = await PgSecretStore.open(db, { keyFile: join(dir, 'k') });
      const other = join(dir, 'other');
      await writeFile(other, Buffer.alloc(32, 7).toString('base64') + '\n', { mode: 0o600 });
      await assert.rejects(PgSecretStore.open(db, { keyFile: other }), /is not the key they are sealed with/);
      const loose = join(dir, 'loose');
      await writeFile(loose, Buffer.alloc(32, 7).toString('base64') + '\n', { mode: 0o644 });
      await assert.rejects(PgSecretStore.open(db, { keyFile: loose }), /lets group\/other access it/);
      await s.setRootPassword(MAC, HASH);
      await cluster.sql(cfg.database, "UPDATE node_secrets SET node = '52:54:00:15:00:09' WHERE node = $1", [MAC]);
      await assert.rejects(s.rootPasswordHash('52:54:00:15:00:09'), /does not open with this server's key: it was altered or sealed for another node/);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
