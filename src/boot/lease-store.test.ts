import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeaseStore } from './lease-store.js';

const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';

describe('LeaseStore', () => {
  let dir: string;
  let clock: number;
  const now = (): number => clock;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'diskless-leases-'));
    clock = Date.UTC(2026, 0, 1);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('holds an offer against other clients until it expires', () => {
    const store = new LeaseStore({ now });
    store.apply({ kind: 'offer', mac: A, ip: '10.0.0.100', holdSec: 60 });
    assert.equal(store.isAvailable('10.0.0.100', A), true);
    assert.equal(store.isAvailable('10.0.0.100', B), false);
    clock += 61_000;
    assert.equal(store.isAvailable('10.0.0.100', B), true);
  });

  it('keeps one address per client', () => {
    const store = new LeaseStore({ now });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 60 });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.101', leaseSec: 60 });
    assert.equal(store.leaseForIp('10.0.0.100'), undefined);
    assert.equal(store.leaseForMac(A)?.ip, '10.0.0.101');
  });

  it('does not turn a bound lease back into an offer', () => {
    const store = new LeaseStore({ now });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 3600 });
    store.apply({ kind: 'offer', mac: A, ip: '10.0.0.100', holdSec: 60 });
    assert.equal(store.leaseForMac(A)?.state, 'bound');
  });

  it('lets an expired lease be reused by another client', () => {
    const store = new LeaseStore({ now });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 10 });
    clock += 11_000;
    assert.equal(store.isAvailable('10.0.0.100', B), true);
    store.apply({ kind: 'bind', mac: B, ip: '10.0.0.100', leaseSec: 10 });
    assert.equal(store.leaseForMac(A), undefined);
  });

  it('release expires the lease but remembers the client', () => {
    const store = new LeaseStore({ now });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 3600 });
    store.apply({ kind: 'release', mac: B, ip: '10.0.0.100' });
    assert.equal(store.isAvailable('10.0.0.100', B), false, 'only the holder can release');
    store.apply({ kind: 'release', mac: A, ip: '10.0.0.100' });
    assert.equal(store.isAvailable('10.0.0.100', B), true);
    assert.equal(store.leaseForMac(A)?.ip, '10.0.0.100');
  });

  it('a declined address is unavailable to everyone, the decliner included', () => {
    const store = new LeaseStore({ now });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 3600 });
    store.apply({ kind: 'decline', mac: A, ip: '10.0.0.100', holdSec: 600 });
    assert.equal(store.isAvailable('10.0.0.100', A), false);
    assert.equal(store.isAvailable('10.0.0.100', B), false);
    assert.equal(store.leaseForMac(A), undefined);
  });

  it('cancel-offer drops only an offer', () => {
    const store = new LeaseStore({ now });
    store.apply({ kind: 'offer', mac: A, ip: '10.0.0.100', holdSec: 60 });
    store.apply({ kind: 'cancel-offer', mac: A });
    assert.equal(store.leaseForMac(A), undefined);
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 60 });
    store.apply({ kind: 'cancel-offer', mac: A });
    assert.equal(store.leaseForMac(A)?.state, 'bound');
  });

  it('persists bound leases and declines, not offers, and reloads them', () => {
    const path = join(dir, 'state', 'leases.json');
    const store = new LeaseStore({ path, now });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 3600, hostname: 'n1' });
    store.apply({ kind: 'decline', mac: B, ip: '10.0.0.101', holdSec: 600 });
    store.apply({ kind: 'offer', mac: B, ip: '10.0.0.102', holdSec: 60 });
    const again = new LeaseStore({ path, now });
    assert.deepEqual(again.leaseForMac(A), { ip: '10.0.0.100', mac: A, state: 'bound', expiresAt: clock + 3_600_000, hostname: 'n1' });
    assert.equal(again.isAvailable('10.0.0.101', A), false);
    assert.equal(again.leaseForIp('10.0.0.102'), undefined);
    assert.deepEqual(readdirSync(join(dir, 'state')), ['leases.json'], 'no temp file left behind');
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).version, 1);
  });

  it('starts empty when the file does not exist and refuses a corrupt one', () => {
    assert.deepEqual(new LeaseStore({ path: join(dir, 'none.json'), now }).list(), []);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"version": 1, "leases": [');
    assert.throws(() => new LeaseStore({ path: bad, now }), /Cannot load DHCP leases from .*bad\.json/);
  });
});
