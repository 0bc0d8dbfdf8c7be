import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postgresFixture } from '../testing/postgres-fixture.js';
import { Database } from './database.js';
import { PgLeaseTable } from './lease-table.js';
import { LeaseConflictError } from '../dhcp/lease-table.js';
import { waitUntil } from '../testing/wait-until.js';

const pg = postgresFixture();
const OLD = '52:54:00:15:0d:01';
const NEW = '52:54:00:15:0d:02';
const OTHER = '52:54:00:15:0d:03';
const NODE = 'host:rack1-n1';
const IP = '10.77.0.50';

test("a lease keeps the node its client was taken for: every server's copy and a reread know it, and the node's new machine may take the address", async (t) => {
  const cfg = await (await pg.cluster()).database();
  const open = async (server: string) => {
    const db = await Database.open(cfg);
    const leases = await PgLeaseTable.open(db, { server });
    t.after(async () => {
      leases.close();
      await db.close();
    });
    return leases;
  };
  const a = await open('10.77.0.1');
  const b = await open('10.77.0.2');

  await a.change({ kind: 'bind', mac: OLD, ip: IP, leaseSec: 3600, node: NODE }).durable;
  assert.equal(a.leaseForIp(IP)?.node, NODE);
  await waitUntil('B hears the binding', () => b.leaseForIp(IP)?.mac === OLD);
  assert.equal(b.leaseForIp(IP)?.node, NODE, "B's copy, from the announcement");
  const c = await open('10.77.0.3');
  assert.equal(c.leaseForIp(IP)?.node, NODE, 'a server reading the table whole');

  // The node on a new mainboard (same switch port, new MAC) may take its address; a stranger may not.
  assert.equal(b.isAvailable(IP, NEW, NODE), true);
  assert.equal(b.isAvailable(IP, OTHER), false);
  await assert.rejects(b.change({ kind: 'bind', mac: OTHER, ip: IP, leaseSec: 3600 }).durable!, LeaseConflictError);
  await assert.rejects(b.change({ kind: 'offer', mac: OTHER, ip: IP, holdSec: 60, node: 'host:other' }).durable!, LeaseConflictError);
  await b.change({ kind: 'offer', mac: NEW, ip: IP, holdSec: 60, node: NODE }).durable;
  await b.flush();
  await b.change({ kind: 'bind', mac: NEW, ip: IP, leaseSec: 3600, node: NODE }).durable;
  await waitUntil('A hears the new machine bound', () => a.leaseForIp(IP)?.mac === NEW);
  assert.equal(a.leaseForIp(IP)?.node, NODE);
  assert.equal(a.leaseForMac(OLD), undefined, 'the old machine no longer holds the address');
});
