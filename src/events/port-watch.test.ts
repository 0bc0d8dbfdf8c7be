import { it } from 'node:test';
import assert from 'node:assert/strict';
import { NODE_ON_OTHER_PORT, PortWatch } from './port-watch.js';
import type { DhcpEvent } from '../protocols/dhcp/server.js';
import type { NodeConfig } from '../config/types.js';

const MAC = '52:54:00:00:00:17';
const NODE: NodeConfig = { mac: MAC, hostname: 'r1n7', profile: 'lab', switchPort: { circuitId: 'Gi1/0/7', remoteId: 'sw3' } };
const seen = (circuitId: string, f: Partial<DhcpEvent> = {}, remoteId: string | undefined = 'sw3', trusted = true): DhcpEvent => ({
  type: 'discover', mac: MAC, xid: 1, at: 1000, giaddr: '10.2.0.1', agent: { circuitId, ...(remoteId !== undefined ? { remoteId } : {}), trusted }, ...f,
});

it('a listed node\'s MAC on another port (trusted relay): one alert naming both ports, the relay and the fix', () => {
  const w = new PortWatch();
  const a = w.check(seen('Gi1/0/9'), NODE);
  assert.ok(a);
  assert.deepEqual([a.kind, a.name, a.mac, a.time], ['alert', NODE_ON_OTHER_PORT, MAC, 1000]);
  assert.equal(a.detail, 'r1n7 (52:54:00:00:00:17) is listed on circuit Gi1/0/7 on remote sw3 but its relay 10.2.0.1 reports it on circuit Gi1/0/9 on remote sw3; it is served as r1n7 by its MAC. If it was moved, change its switch_port (diskless node set 52:54:00:00:00:17 --circuit-id …); if not, another machine is using its MAC');
  assert.deepEqual(a.fields, { listedCircuitId: 'Gi1/0/7', listedRemoteId: 'sw3', circuitId: 'Gi1/0/9', remoteId: 'sw3', giaddr: '10.2.0.1', node: 'r1n7' });
  // The rest of that boot's DHCP on the same wrong port: no more alerts.
  assert.equal(w.check(seen('Gi1/0/9', { type: 'ack', ip: '10.2.0.17' }), NODE), undefined);
  // Another wrong port (or another switch): a new alert.
  assert.equal(w.check(seen('Gi1/0/7', {}, 'sw4'), NODE)?.fields['remoteId'], 'sw4');
  // Back on its port: quiet, and a later move alerts again.
  assert.equal(w.check(seen('Gi1/0/7'), NODE), undefined);
  assert.ok(w.check(seen('Gi1/0/9'), NODE));
});

it('no alert: on its own port, an untrusted relay, no option 82, a node without a listed port, a machine that is not the node', () => {
  const w = new PortWatch();
  assert.equal(w.check(seen('Gi1/0/7'), NODE), undefined);
  assert.equal(w.check(seen('Gi1/0/9', {}, 'sw3', false), NODE), undefined, 'anyone on a server link can claim a port');
  assert.equal(w.check({ type: 'discover', mac: MAC, xid: 1, at: 1 }, NODE), undefined);
  assert.equal(w.check(seen('Gi1/0/9'), { mac: MAC, hostname: 'plain', profile: 'lab' }), undefined);
  assert.equal(w.check(seen('Gi1/0/9', { mac: '52:54:00:00:00:99' }), NODE), undefined);
  assert.equal(w.check(seen('Gi1/0/9'), undefined), undefined);
});
