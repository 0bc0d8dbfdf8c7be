import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { BootScript } from '../events/testdata/boot-sequences.js';
import { auth, call, startApi, VERSION } from './testdata/api-fixture.js';
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from './paging.js';

const N1 = '52:54:00:00:00:01';
const STRANGER = '52:54:00:00:00:99';

function bootN1(obs: Awaited<ReturnType<typeof startApi>>['obs']): void {
  const s = new BootScript(N1, '10.77.0.51')
    .at(0).firmwareToKernel()
    .at(4100).report('network', 'ok', 'duration_ms=1500', 2300)
    .at(7400).report('root', 'failed', 'sha256 mismatch', 5600);
  for (const { seq: _seq, ...e } of s.events) obs.record(e);
  obs.record({ time: 1, mac: STRANGER, kind: 'dhcp', name: 'discover', detail: '', fields: { xid: '0x9' } });
}

test('reads: nodes with state and timeline, events with cursors, profiles, images, discovered', async (t) => {
  const { port, obs } = await startApi(t);
  bootN1(obs);
  const nodes = await call(port, 'GET', '/api/v1/nodes');
  assert.equal(nodes.status, 200);
  assert.deepEqual(nodes.json.nodes.map((n: any) => [n.mac, n.status, n.stage, n.cause]), [[N1, 'failed', 'root', 'sha256 mismatch']]);
  const one = await call(port, 'GET', '/api/v1/nodes/52-54-00-00-00-01');
  assert.equal(one.json.hostname, 'n1');
  assert.deepEqual(one.json.timeline.map((r: any) => [r.name, r.status]), [['dhcp', 'ok'], ['load', 'ok'], ['network', 'ok'], ['root', 'failed']]);
  assert.equal((await call(port, 'GET', '/api/v1/nodes/52:54:00:00:00:42')).status, 404);
  assert.equal((await call(port, 'GET', '/api/v1/nodes/nope')).json.error, 'Not a MAC address: "nope"');

  const all = await call(port, 'GET', '/api/v1/events?limit=2');
  assert.deepEqual(all.json.events.map((e: any) => e.kind), ['failed', 'dhcp']);
  const after = await call(port, 'GET', `/api/v1/events?node=${N1}&since=3&limit=2`);
  assert.deepEqual(after.json.events.map((e: any) => e.seq), [4, 5]);
  const perNode = await call(port, 'GET', `/api/v1/nodes/${N1}/events?limit=1`);
  assert.equal(perNode.json.events[0].detail, 'sha256 mismatch');
  assert.equal((await call(port, 'GET', '/api/v1/events?since=yesterday')).status, 400);

  const profiles = await call(port, 'GET', '/api/v1/profiles');
  assert.deepEqual(profiles.json.profiles.map((p: any) => [p.name, p.nodes]), [['lab', [N1]]]);
  const images = await call(port, 'GET', '/api/v1/images');
  // N1's failed boot runs nothing; a booting node shows under the version it loads.
  assert.deepEqual(images.json.images[0].versions.map((v: any) => [v.version, v.published, v.nodes]), [[VERSION, true, []]]);
  const discovered = await call(port, 'GET', '/api/v1/discovered');
  assert.deepEqual(discovered.json.discovered.map((n: any) => [n.mac, n.status, n.known]), [[STRANGER, 'dhcp', false]]);
});

test('lists are paged in MAC order: limit and after walk every machine once; bad values are 400', async (t) => {
  const { port, obs, nodes } = await startApi(t);
  nodes.push({ mac: '52:54:00:00:00:03', profile: 'lab' }, { mac: '52:54:00:00:00:02', profile: 'lab' });
  const strangers = Array.from({ length: 2500 }, (_, i) => `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`);
  for (const mac of [...strangers].reverse()) obs.record({ time: 1, mac, kind: 'dhcp', name: 'discover', detail: '', fields: {} });

  const first = await call(port, 'GET', '/api/v1/discovered');
  assert.equal(first.json.discovered.length, DEFAULT_LIST_LIMIT, 'without limit: the default page');
  assert.equal(first.json.next, strangers[DEFAULT_LIST_LIMIT - 1]);
  const walked: string[] = [];
  let after = '';
  let pages = 0;
  for (;;) {
    const page = await call(port, 'GET', `/api/v1/discovered?limit=${MAX_LIST_LIMIT}${after ? `&after=${after}` : ''}`);
    assert.equal(page.status, 200);
    assert.ok(page.json.discovered.length <= MAX_LIST_LIMIT);
    walked.push(...page.json.discovered.map((n: any) => n.mac));
    pages += 1;
    if (page.json.next === null) break;
    after = page.json.next;
  }
  assert.equal(pages, 3);
  assert.deepEqual(walked, strangers, 'each once, in MAC order');

  const n1 = await call(port, 'GET', '/api/v1/nodes?limit=2');
  assert.deepEqual([n1.json.nodes.map((n: any) => n.mac), n1.json.next], [['52:54:00:00:00:01', '52:54:00:00:00:02'], '52:54:00:00:00:02']);
  const n2 = await call(port, 'GET', '/api/v1/nodes?limit=2&after=52-54-00-00-00-02');
  assert.deepEqual([n2.json.nodes.map((n: any) => n.mac), n2.json.next], [['52:54:00:00:00:03'], null]);

  for (const q of ['limit=0', `limit=${MAX_LIST_LIMIT + 1}`, 'limit=ten', 'after=nope']) {
    const bad = await call(port, 'GET', `/api/v1/nodes?${q}`);
    assert.equal(bad.status, 400, q);
    assert.ok(bad.json.hint, q);
  }
});

test('writes need the admin token: 401 without, 403 wrong; then reach the injected writers', async (t) => {
  const { port, writes, nodes, obs } = await startApi(t);
  bootN1(obs);
  const body = JSON.stringify({ mac: '52:54:00:00:00:02', hostname: 'n2', profile: 'lab' });
  const none = await call(port, 'POST', '/api/v1/nodes', { body });
  assert.equal(none.status, 401);
  assert.equal(none.headers['www-authenticate'], 'Bearer realm="diskless"');
  assert.deepEqual(Object.keys(none.json), ['error', 'hint']);
  assert.equal((await call(port, 'POST', '/api/v1/nodes', { body, headers: { authorization: 'Bearer guess' } })).status, 403);
  assert.equal((await call(port, 'POST', '/api/v1/nodes', { body, headers: auth })).status, 201);
  assert.equal((await call(port, 'POST', '/api/v1/nodes', { body, headers: auth })).status, 400); // InventoryError
  assert.equal((await call(port, 'POST', `/api/v1/nodes/${N1}`, { body: '{"hostname":null,"cmdline":"quiet"}', headers: auth })).status, 200);
  assert.equal((await call(port, 'POST', `/api/v1/nodes/${N1}`, { body: '{"colour":"red"}', headers: auth })).status, 400);
  assert.equal((await call(port, 'POST', `/api/v1/discovered/${STRANGER}/adopt`, { body: '{"hostname":"n99"}', headers: auth })).status, 201);
  assert.equal((await call(port, 'POST', `/api/v1/discovered/${STRANGER}/adopt`, { headers: auth })).status, 409);
  assert.equal((await call(port, 'POST', '/api/v1/images/debian/publish', { body: `{"version":"${VERSION}"}`, headers: auth })).status, 200);
  assert.equal((await call(port, 'POST', '/api/v1/images/debian/publish', { body: '{}', headers: auth })).status, 400);
  const rollback = await call(port, 'POST', '/api/v1/images/debian/rollback', { headers: auth });
  assert.equal(rollback.status, 400);
  assert.match(rollback.json.error, /nothing to roll back/);
  assert.deepEqual(writes, [
    ['add', { mac: '52:54:00:00:00:02', hostname: 'n2', profile: 'lab' }],
    ['set', N1, { hostname: null, cmdline: 'quiet' }],
    ['add', { mac: STRANGER, hostname: 'n99' }],
    ['publish', 'debian', VERSION],
    ['rollback', 'debian'],
  ]);
  assert.equal(nodes.length, 3);
});

test('bodies are capped, JSON is required, methods are checked, other /api paths fall through', async (t) => {
  const { port } = await startApi(t);
  const big = await call(port, 'POST', '/api/v1/nodes', { body: JSON.stringify({ mac: N1, cmdline: 'x'.repeat(4000) }), headers: auth });
  assert.equal(big.status, 413);
  assert.equal((await call(port, 'POST', '/api/v1/nodes', { body: '{nope', headers: auth })).status, 400);
  assert.equal((await call(port, 'POST', '/api/v1/nodes', { body: '[1]', headers: auth })).status, 400);
  const wrongMethod = await call(port, 'DELETE', '/api/v1/nodes');
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.allow, 'GET, POST');
  // Not ours: the report endpoint (or the 404 of the file server) answers.
  assert.equal((await call(port, 'GET', '/api/v1/unknown')).status, 404);
  assert.equal((await call(port, 'GET', '/api/v1/unknown')).json, undefined);
});

test('reads outside the configured networks are refused with 403', async (t) => {
  const { port } = await startApi(t, { readCidrs: ['10.0.0.0/8'] });
  const r = await call(port, 'GET', '/api/v1/nodes');
  assert.equal(r.status, 403);
  assert.match(r.json.hint, /read networks/);
  assert.equal((await call(port, 'GET', '/metrics')).status, 403);
});

test('/metrics serves the text format', async (t) => {
  const { port, obs } = await startApi(t);
  bootN1(obs);
  const r = await call(port, 'GET', '/metrics');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(r.body, /^diskless_boots_failed_total\{stage="root"\} 1$/m);
});

/** Reads an SSE response until `count` events arrived; returns them and the raw text. */
function readStream(port: number, path: string, headers: Record<string, string>, count: number, onOpen: () => void) {
  return new Promise<{ ids: number[]; raw: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let raw = '';
      const ids: number[] = [];
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        raw += c;
        ids.splice(0, ids.length, ...[...raw.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1])));
        if (ids.length >= count && raw.includes(': heartbeat')) {
          req.destroy();
          resolve({ ids, raw });
        }
      });
      onOpen();
    });
    req.on('error', reject);
    req.end();
  });
}

test('events/stream replays after Last-Event-ID, then follows live events, with heartbeats', async (t) => {
  const { port, obs } = await startApi(t);
  for (let i = 0; i < 5; i++) obs.record({ time: i, mac: N1, kind: 'dhcp', name: 'discover', detail: '', fields: {} });
  const { ids, raw } = await readStream(port, '/api/v1/events/stream', { 'last-event-id': '3' }, 4, () => {
    setTimeout(() => {
      obs.record({ time: 9, mac: N1, kind: 'alert', name: 'test', detail: 'live', fields: {} });
      obs.record({ time: 9, mac: STRANGER, kind: 'alert', name: 'test', detail: 'live', fields: {} });
    }, 10);
  });
  assert.deepEqual(ids, [4, 5, 6, 7]);
  assert.match(raw, /^retry: 3000$/m);
  assert.match(raw, /^data: \{"seq":6,.*"detail":"live"/m);
  const filtered = await readStream(port, `/api/v1/events/stream?node=${STRANGER}&since=0`, {}, 1, () => {});
  assert.deepEqual(filtered.ids, [7]);
});

test('a node known by its switch port is listed under the machine its relay reported there, with the port', async (t) => {
  const { port, obs, nodes } = await startApi(t);
  nodes.push({ hostname: 'r2n7', switchPort: { circuitId: 'rack1' }, profile: 'lab' });
  const board = '52:54:00:00:00:77';
  // The DHCP events of a relayed DISCOVER taken for the node, and of a stranger through an untrusted relay.
  obs.record({ time: 1, mac: board, kind: 'dhcp', name: 'discover', detail: '', fields: { xid: '0x1', circuitId: 'rack1', agentTrusted: 'yes', node: 'host:r2n7' } });
  obs.record({ time: 2, mac: STRANGER, kind: 'dhcp', name: 'discover', detail: '', fields: { xid: '0x2', circuitId: 'rack1', remoteId: 'sw9', agentTrusted: 'no' } });
  const list = await call(port, 'GET', '/api/v1/nodes');
  assert.deepEqual(list.json.nodes.map((n: any) => [n.mac, n.known, n.hostname, n.relayAgent]), [
    [N1, true, 'n1', null],
    [board, true, 'r2n7', { circuitId: 'rack1', trusted: true }],
  ]);
  assert.equal((await call(port, 'GET', `/api/v1/nodes/${board}`)).json.hostname, 'r2n7');
  const discovered = await call(port, 'GET', '/api/v1/discovered');
  assert.deepEqual(discovered.json.discovered.map((n: any) => [n.mac, n.relayAgent]), [[STRANGER, { circuitId: 'rack1', remoteId: 'sw9', trusted: false }]]);
  // A later request not taken for the node (e.g. from another port) ends it.
  obs.record({ time: 3, mac: board, kind: 'dhcp', name: 'discover', detail: '', fields: { xid: '0x3', circuitId: 'rack9', agentTrusted: 'yes' } });
  assert.deepEqual((await call(port, 'GET', '/api/v1/nodes')).json.nodes.map((n: any) => n.mac), [N1]);
});
