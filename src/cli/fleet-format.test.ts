import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverTable, statusTable } from './fleet-format.js';
import type { NodeSummary } from '../api/wire.js';

const row = (over: Partial<NodeSummary>): NodeSummary => ({
  mac: '52:54:00:00:00:01', known: true, hostname: 'n1', address: null, status: 'offline', stage: null, cause: null, ip: null,
  bootCount: 0, bootStartedAt: null, booted: null, running: null, lastEvent: null, relayAgent: null, ...over,
});

test('diskless status: a PORT column once a node came through a relay, "?" for a relay not trusted to name ports', () => {
  assert.doesNotMatch(statusTable([row({})], 0), /PORT/, 'no relays: the table as before');
  const table = statusTable([
    row({}),
    row({ mac: '52:54:00:00:00:02', hostname: 'r2n7', relayAgent: { circuitId: 'Gi1/0/7', remoteId: 'sw3', trusted: true } }),
    row({ mac: '52:54:00:00:00:03', hostname: null, known: false, relayAgent: { circuitId: 'rack1', trusted: false } }),
  ], 0);
  assert.deepEqual(table.split('\n').map((l) => l.split(/ {2,}/).slice(0, 4)), [
    ['HOSTNAME', 'MAC', 'ADDRESS', 'PORT'],
    ['n1', '52:54:00:00:00:01', '-', '-'],
    ['r2n7', '52:54:00:00:00:02', '-', 'Gi1/0/7@sw3'],
    ['-', '52:54:00:00:00:03', '-', 'rack1?'],
    [''],
  ]);
});

test('diskless status: the server table names every node its DHCP bound, one known only by its switch port too', () => {
  const nodes = [
    row({}),
    // A node without a MAC in the inventory, listed by the machine last taken for it.
    row({ mac: '52:54:00:00:00:02', hostname: 'r2n7', relayAgent: { circuitId: 'Gi1/0/7', remoteId: 'sw3', trusted: true } }),
  ];
  const servers = { state: 'postgres' as const, servers: [
    { address: '10.0.0.2', name: 'a', bootUrl: 'http://10.0.0.2/', health: 'live' as const, self: true, startedAt: null, heartbeatAt: null,
      nodes: ['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:09'] },
  ] };
  const table = serverTable(servers, nodes, 0).split('\n');
  assert.match(table[1]!, /^10\.0\.0\.2\s+a\s+live \(this\)\s+-\s+3: n1, r2n7, 52:54:00:00:00:09$/);
});
