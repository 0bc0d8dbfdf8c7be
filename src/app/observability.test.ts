import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createObservability } from './observability.js';

test('service hooks record events; a reopened state directory restores node states, not counters', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-obs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const mac = '52:54:00:00:00:01';
  const a = createObservability({ stateDir: dir, now: () => 1_000, lookupMacByIp: (ip) => (ip === '10.0.0.5' ? mac : undefined) });
  a.serviceEvents.dhcp({ type: 'discover', mac, xid: 1, at: 900 });
  a.serviceEvents.dhcp({ type: 'offer', mac, xid: 1, ip: '10.0.0.5', file: 'undionly.kpxe', at: 905 });
  a.serviceEvents.tftp({ type: 'start', peer: { address: '10.0.0.5', port: 2000 }, file: 'undionly.kpxe', bytes: 0, durationMs: 0 });
  a.serviceEvents.http({ type: 'done', peer: '10.0.0.5', method: 'GET', path: '/api/v1/nodes', status: 200, bytes: 10, durationMs: 1 });
  a.serviceEvents.node({ mac, stage: 'root', status: 'failed', detail: 'sha256 mismatch', peer: '10.0.0.5', fields: {} });
  assert.equal(a.store.lastSeq, 4, 'the API request is not a boot event');
  assert.equal(a.store.query({ limit: 10 })[2]?.mac, mac, 'the TFTP peer was tied to its MAC');
  assert.match(a.metrics.expose(), /^diskless_boots_started_total 1$/m);
  a.close();

  const b = createObservability({ stateDir: dir });
  t.after(() => b.close());
  assert.equal(b.states.get(mac)?.phase, 'failed');
  assert.equal(b.states.get(mac)?.cause, 'sha256 mismatch');
  assert.match(b.metrics.expose(), /^diskless_boots_started_total 0$/m);
  assert.equal(b.record({ time: 2_000, mac, kind: 'alert', name: 'x', detail: '', fields: {} })?.seq, 5);
});
