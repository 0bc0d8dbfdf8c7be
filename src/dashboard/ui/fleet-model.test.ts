import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeSummary, StoredImage } from '../../api/wire.js';
import { filterRows, fleetRow, runningImages, sortRows } from './fleet-model.js';
import { formatAgo, formatBytes, formatDuration } from './format.js';

const V = '0123456789abcdef';
function node(mac: string, over: Partial<NodeSummary>): NodeSummary {
  return { mac, known: true, hostname: null, address: null, status: 'offline', stage: null, cause: null, ip: null, bootCount: 0, bootStartedAt: null, booted: null, running: null, lastEvent: null, relayAgent: null, ...over };
}
const images: StoredImage[] = [{ name: 'debian', published: V, publishedAt: null, previous: [], versions: [{ version: V, created: '', kernelVersion: '', size: 1, sha256: '', parent: null, published: true, nodes: ['52:54:00:00:00:02'] }] }];
const nodes = [
  node('52:54:00:00:00:01', { hostname: 'web1', address: '10.0.0.10', status: 'booted', booted: { image: 'old', version: 'fedcba9876543210', at: 5 }, lastEvent: { seq: 1, time: 1000, kind: 'booted', name: 'booted', detail: '' } }),
  node('52:54:00:00:00:02', { hostname: 'db1', ip: '10.0.0.9', status: 'initramfs', stage: 'root', lastEvent: { seq: 2, time: 5000, kind: 'stage', name: 'network', detail: 'duration_ms=5' } }),
  node('52:54:00:00:00:03', { hostname: 'app1', status: 'failed', stage: 'root', cause: 'sha256 mismatch', lastEvent: { seq: 3, time: 3000, kind: 'failed', name: 'root', detail: 'sha256 mismatch' } }),
  node('52:54:00:00:00:04', { hostname: 'spare', status: 'loading' }),
];
const rows = nodes.map((n) => fleetRow(n, runningImages(images)));

test('a row: address from the inventory or the lease, image from /images or the booted report', () => {
  assert.deepEqual(rows.map((r) => [r.hostname, r.address, r.stage, r.image]), [
    ['web1', '10.0.0.10', '', 'old@fedcba98'],
    ['db1', '10.0.0.9', 'root', 'debian@01234567'],
    ['app1', '', 'root', ''],
    ['spare', '', 'load', ''],
  ]);
  assert.equal(rows[1]!.lastEvent, 'stage network: duration_ms=5');
});

test('sorting: states by urgency, addresses numerically, ago newest first', () => {
  assert.deepEqual(sortRows(rows, 'status', false).map((r) => r.hostname), ['app1', 'db1', 'spare', 'web1']);
  assert.deepEqual(sortRows(rows, 'address', false).map((r) => r.hostname), ['db1', 'web1', 'app1', 'spare']);
  assert.deepEqual(sortRows(rows, 'ago', false).map((r) => r.hostname), ['db1', 'app1', 'web1', 'spare']);
  assert.deepEqual(sortRows(rows, 'hostname', true).map((r) => r.hostname), ['web1', 'spare', 'db1', 'app1']);
});

test('filtering: every word somewhere in the row, and the state select', () => {
  assert.deepEqual(filterRows(rows, 'sha256', '').map((r) => r.hostname), ['app1']);
  assert.deepEqual(filterRows(rows, 'root 10.0.0', '').map((r) => r.hostname), ['db1']);
  assert.deepEqual(filterRows(rows, ':00:0', 'booted').map((r) => r.hostname), ['web1']);
});

test('durations, ago and sizes read like people write them', () => {
  assert.deepEqual([812, 1500, 12_400, 125_000, 3_780_000].map(formatDuration), ['812 ms', '1.5 s', '12 s', '2 min 5 s', '1 h 3 min']);
  assert.deepEqual([0, 12_000, 300_000, 7_200_000, -3000].map((d) => formatAgo(1e6 - d, 1e6)), ['just now', '12 s ago', '5 min ago', '2 h ago', 'just now']);
  assert.deepEqual([512, 1536, 300 * 1024 * 1024].map(formatBytes), ['512 B', '1.5 KiB', '300 MiB']);
});
