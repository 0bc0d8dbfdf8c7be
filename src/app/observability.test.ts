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

test('a boot DHCP refused (kernel of another architecture) fails once per firmware attempt, with the reason, on the timeline', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-obs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const mac = '52:54:00:00:0a:64';
  const why = "kernel architecture mismatch: profile arm's kernel is arm64, but this machine asked as x86-64 UEFI, DHCP architecture 7; give the node a profile with an x86-64 kernel";
  const o = createObservability({ stateDir: dir, now: () => 1_000 });
  t.after(() => o.close());
  const attempt = (xid: number, at: number): void => {
    o.serviceEvents.dhcp({ type: 'discover', mac, xid, at });
    o.serviceEvents.dhcp({ type: 'offer', mac, xid, ip: '10.0.0.5', reason: `offer 10.0.0.5 (pool), no boot info: ${why}`, refused: why, at: at + 5 });
    o.serviceEvents.dhcp({ type: 'request', mac, xid, ip: '10.0.0.5', at: at + 10 });
    o.serviceEvents.dhcp({ type: 'ack', mac, xid, ip: '10.0.0.5', reason: `ack 10.0.0.5 (selecting), no boot info: ${why}`, refused: why, at: at + 15 });
  };
  attempt(1, 900);
  const s = o.states.get(mac);
  assert.deepEqual([s?.phase, s?.stage, s?.cause], ['failed', 'arch', why]);
  assert.deepEqual(s?.boot?.stages.map((st) => `${st.name}:${st.status}`), ['arch:failed']);
  assert.equal(s?.bootCount, 1, 'the ACK after the refusal starts no boot of its own');
  // The firmware tries again: a new boot, refused the same way.
  attempt(2, 5_000);
  assert.deepEqual([o.states.get(mac)?.bootCount, o.states.get(mac)?.phase], [2, 'failed']);
  assert.equal(o.store.query({ limit: 20 }).filter((e) => e.kind === 'failed').length, 2);
});
