import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseStore } from '../dhcp/lease-store.js';
import { knownMac } from './known-macs.js';

test('a report may name a machine of the inventory, of a lease or offer, of a sighting or with a state; nothing else', () => {
  const leases = new LeaseStore({ now: () => 0 });
  leases.apply({ kind: 'offer', mac: '02:00:00:00:00:0a', ip: '10.0.0.100', holdSec: 60 });
  leases.apply({ kind: 'bind', mac: '02:00:00:00:00:0b', ip: '10.0.0.101', leaseSec: 3600 });
  const known = knownMac({
    inventory: (m) => m === '52:54:00:00:00:01',
    leases: (m) => leases.leaseForMac(m) !== undefined,
    discovered: (m) => m === '02:00:00:00:00:0c',
    states: (m) => m === '02:00:00:00:00:0d',
  });
  const cases: Array<[string, string, boolean]> = [
    ['inventory node', '52:54:00:00:00:01', true],
    ['DHCP offer', '02:00:00:00:00:0a', true],
    ['DHCP lease', '02:00:00:00:00:0b', true],
    ['sighting of an unknown machine', '02:00:00:00:00:0c', true],
    ['seen by a service (state)', '02:00:00:00:00:0d', true],
    ['made up', '02:00:00:00:00:ff', false],
  ];
  for (const [name, mac, want] of cases) assert.equal(known(mac), want, name);
  // dhcp.mode off: no lease table.
  assert.equal(knownMac({ inventory: () => false, leases: undefined, discovered: () => false, states: () => false })('02:00:00:00:00:0a'), false);
});
