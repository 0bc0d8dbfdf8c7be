import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseAddress, isAcceptable, PoolCursor, type AddressContext } from './address-choice.js';
import { LeaseStore } from './lease-store.js';
import type { DhcpSettings } from './settings.js';

const settings = { serverAddress: '10.0.0.1', pool: { start: '10.0.0.10', end: '10.0.0.12' } } as DhcpSettings;
const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';
const C = '52:54:00:00:00:0c';

test('a storm: an expired offer is not handed to the next client while other addresses are free', () => {
  let now = 0;
  const leases = new LeaseStore({ now: () => now });
  const ctx = (mac: string): AddressContext => ({ mac, node: undefined, settings, leases });
  const first = chooseAddress(ctx(A), undefined);
  assert.deepEqual(first, { ok: true, ip: '10.0.0.10', source: 'pool' });
  leases.apply({ kind: 'offer', mac: A, ip: '10.0.0.10', holdSec: 60 });
  now += 61_000; // A is slow to REQUEST: its offer has expired.

  // B gets a fresh address, so A's late REQUEST for .10 is still acceptable (no NAK).
  assert.deepEqual(chooseAddress(ctx(B), undefined), { ok: true, ip: '10.0.0.11', source: 'pool' });
  leases.apply({ kind: 'bind', mac: B, ip: '10.0.0.11', leaseSec: 3600 });
  assert.equal(isAcceptable(ctx(A), '10.0.0.10'), true);

  // When nothing else is free, the expired offer's address is reused rather than refused.
  leases.apply({ kind: 'bind', mac: '52:54:00:00:00:0d', ip: '10.0.0.12', leaseSec: 3600 });
  assert.deepEqual(chooseAddress(ctx(C), undefined), { ok: true, ip: '10.0.0.10', source: 'pool' });
});

test('an expired lease keeps its address for its owner while the pool has others', () => {
  let now = 0;
  const leases = new LeaseStore({ now: () => now });
  leases.apply({ kind: 'bind', mac: A, ip: '10.0.0.10', leaseSec: 60 });
  now += 120_000;
  const ctx = (mac: string): AddressContext => ({ mac, node: undefined, settings, leases });
  assert.deepEqual(chooseAddress(ctx(B), undefined), { ok: true, ip: '10.0.0.11', source: 'pool' });
  assert.deepEqual(chooseAddress(ctx(A), undefined), { ok: true, ip: '10.0.0.10', source: 'lease' });
});

test('with a cursor, the pool scan starts after the last address handed out and wraps at the end', () => {
  const pool = { ...settings, pool: { start: '10.0.0.10', end: '10.0.0.13' } } as DhcpSettings;
  const leases = new LeaseStore({ now: () => 0 });
  const cursor = new PoolCursor();
  const ctx = (mac: string): AddressContext => ({ mac, node: undefined, settings: pool, leases, cursor });
  const offer = (mac: string): string | undefined => {
    const c = chooseAddress(ctx(mac), undefined);
    if (c.ok) leases.apply({ kind: 'offer', mac, ip: c.ip, holdSec: 60 });
    return c.ok ? c.ip : undefined;
  };
  assert.deepEqual([offer(A), offer(B), offer(C)], ['10.0.0.10', '10.0.0.11', '10.0.0.12']);
  leases.apply({ kind: 'cancel-offer', mac: A }); // .10 is free again, behind the cursor
  const D = '52:54:00:00:00:0d';
  const E = '52:54:00:00:00:0e';
  const F = '52:54:00:00:00:0f';
  assert.equal(offer(D), '10.0.0.13', 'the scan goes on from the cursor, not from the pool start');
  assert.equal(offer(E), '10.0.0.10', 'past the end it wraps to the start');
  assert.equal(offer(F), undefined, 'every address offered: exhausted');
});
