// Two startServices (the server an admin runs) on one PostgreSQL, on loopback with DHCP off:
// a node's boot may open its secrets window on one server, take its boot script (and token)
// from either, and redeem the token at the other, which hands it the same host keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { serveShared, stateUrl, type SharedServer } from '../testing/shared-servers.js';
import { postgresFixture } from '../testing/postgres-fixture.js';
import { waitUntil, waitUntilAsync } from '../testing/wait-until.js';
import { statusCommand } from '../cli/status.js';
import type { ServerList } from '../api/wire.js';
import { initrdServerCerts } from './state-backend.js';
import { pemCertificates } from '../tls/server-certificate.js';
import { reportIdTime, reportProof } from '../identity/report-proof.js';

const pg = postgresFixture();
const N1 = '52:54:00:15:00:11';
/** Where the test's requests come from (the kernel's source address for 127.0.0.x). */
const NODE_IP = '127.0.0.1';

type Served = SharedServer;

function serve(t: { after(fn: () => Promise<void>): void }, dir: string, address: string, state: string): Promise<Served> {
  return serveShared(t, { dir, address, state, inventory: `profiles:
  default:
    kernel: /nonexistent/vmlinuz
nodes:
  - mac: ${N1}
    hostname: n1` });
}

async function bootScript(s: Served): Promise<string> {
  const r = await fetch(`http://${s.address}:${s.port}/boot/${N1}.ipxe`);
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return text;
}

/** The token and the secrets URL in the node's boot script from `s`. */
async function script(s: Served): Promise<{ token: string; secrets: string }> {
  const text = await bootScript(s);
  const token = /rd\.diskless\.token=([A-Za-z0-9_-]+)/.exec(text)?.[1];
  const secrets = /diskless\.secrets=(https:\/\/\S+)/.exec(text)?.[1];
  assert.ok(token !== undefined && secrets !== undefined, `no token in:\n${text}`);
  return { token, secrets };
}

function redeem(url: string, token: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${url}/api/v1/node-files`, {
      method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(new URLSearchParams({ token, mac: N1 }).toString());
  });
}

const ed25519Key = (cpio: Buffer): string => {
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----[\s\S]*?-----END OPENSSH PRIVATE KEY-----/.exec(cpio.toString('latin1'));
  assert.ok(m, 'a private host key in the archive');
  return m[0];
};

test('a boot opened on server A gets its script from B, its files from A, and the same host keys the next time the other way round', async (t) => {
  const cluster = await pg.cluster();
  const db = await cluster.database();
  const dir = await mkdtemp(join(tmpdir(), 'dl-shared-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const url = stateUrl(db);
  const a = await serve(t, dir, '127.0.0.2', url);
  const b = await serve(t, dir, '127.0.0.3', url);

  // Outside a boot B's script carries no token.
  assert.doesNotMatch(await bootScript(b), /rd\.diskless\.token=/);
  // A's DHCP exchange with the node opens its window (DHCP is off here: opened as it would).
  a.services.secretsWindows.openFor(N1, NODE_IP);
  await waitUntil('B to see the window A opened', () => b.services.secretsWindows.get(N1) !== undefined, 5000);
  const first = await script(b);
  assert.equal(first.secrets, b.secretsUrl);
  const viaA = await redeem(a.secretsUrl, first.token);
  assert.equal(viaA.status, 200, viaA.body.toString());
  // The redemption at A closed the window on B too; the token is spent everywhere.
  await waitUntil('B to see the window closed', () => b.services.secretsWindows.get(N1) === undefined, 5000);
  assert.equal((await redeem(b.secretsUrl, first.token)).status, 403);

  // The next boot: window on B, script from A, files from B: the same keys.
  b.services.secretsWindows.openFor(N1, NODE_IP);
  await waitUntil('A to see the window B opened', () => a.services.secretsWindows.get(N1) !== undefined, 5000);
  const second = await script(a);
  assert.equal(second.secrets, a.secretsUrl);
  const viaB = await redeem(b.secretsUrl, second.token);
  assert.equal(viaB.status, 200, viaB.body.toString());
  assert.equal(ed25519Key(viaB.body), ed25519Key(viaA.body));
});

test('diskless status lists every server sharing the database, and a stopped one as gone', async (t) => {
  const cluster = await pg.cluster();
  const db = await cluster.database();
  const dir = await mkdtemp(join(tmpdir(), 'dl-shared-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const url = stateUrl(db);
  const a = await serve(t, dir, '127.0.0.2', url);
  const b = await serve(t, dir, '127.0.0.3', url);
  const servers = async (): Promise<ServerList> => (await fetch(`http://127.0.0.1:${a.apiPort}/api/v1/servers`)).json() as Promise<ServerList>;
  const health = (l: ServerList) => l.servers.map((s) => `${s.address} ${s.health}${s.self ? ' self' : ''}`).sort();
  // A reads the list at its heartbeat (every 2 s): B, started after A, appears at the next.
  await waitUntilAsync('A to list B', async () => (await servers()).servers.length === 2, 10_000);
  // An initrd built with A's config trusts both servers' certificates, and nothing else.
  const certs = pemCertificates(await initrdServerCerts(loadConfig(a.file)));
  assert.deepEqual(certs.sort(), [a.services.certificate.certPem, b.services.certificate.certPem].map((p) => p.trim()).sort());
  assert.deepEqual(health(await servers()), ['127.0.0.2 live self', '127.0.0.3 live']);
  let out = '';
  assert.equal(await statusCommand(['--config', a.file], { stdout: (s) => (out += s), now: () => Date.now() }), 0);
  const table = out.slice(out.indexOf('SERVER')).trim().split('\n');
  assert.match(table[0]!, /^SERVER\s+NAME\s+HEALTH\s+HEARTBEAT\s+NODES$/);
  assert.deepEqual(table.slice(1).map((l) => l.split(/\s{2,}/)[0] + ' ' + l.split(/\s{2,}/)[2]).sort(), ['127.0.0.2 live (this)', '127.0.0.3 live']);
  await b.stop();
  await waitUntilAsync('A to list B as gone', async () => health(await servers()).includes('127.0.0.3 gone'), 10_000);
  out = '';
  await statusCommand(['--config', a.file], { stdout: (s) => (out += s), now: () => Date.now() });
  assert.match(out, /^127\.0\.0\.3\s+\S+\s+gone\s/m);
});

/** A stage report from the node, as /init sends it, to one server's boot listener. */
async function report(s: Served, stage: string, status: string, detail: string): Promise<void> {
  const status_ = await new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: s.address, port: s.port, method: 'POST', path: '/api/v1/report', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(new URLSearchParams({ mac: N1, stage, status, detail, uptime_ms: '1000' }).toString());
  });
  assert.equal(status_, 200);
}

interface ApiEvent { kind: string; name: string; fields: Record<string, string> }
const nodeEvents = async (s: Served): Promise<ApiEvent[]> =>
  ((await (await fetch(`http://127.0.0.1:${s.apiPort}/api/v1/nodes/${N1}/events?limit=100`)).json()) as { events: ApiEvent[] }).events;
const nodeStatus = async (s: Served): Promise<{ status: string; stage: string | null }> =>
  (await fetch(`http://127.0.0.1:${s.apiPort}/api/v1/nodes/${N1}`)).json() as Promise<{ status: string; stage: string | null }>;
const timeline = (events: ApiEvent[]) => events.map((e) => `${e.fields.server} ${e.kind} ${e.name}`);

test("one boot served by two servers is one timeline on both, each server's /metrics its own; a restarted server catches up on what it missed", async (t) => {
  const cluster = await pg.cluster();
  const db = await cluster.database();
  const dir = await mkdtemp(join(tmpdir(), 'dl-shared-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const url = stateUrl(db);
  const a = await serve(t, dir, '127.0.0.2', url);
  const b = await serve(t, dir, '127.0.0.3', url);
  // The node's script from A (an http event there), its stages reported to B. Each server lists
  // events in the order it heard them; a node's next step comes long after A's event reached B.
  await bootScript(a);
  await waitUntilAsync("A's event to reach B", async () => (await nodeEvents(b)).length === 1, 5000);
  await report(b, 'cmdline', 'ok', 'duration_ms=3');
  await report(b, 'root', 'failed', 'sha256 mismatch');
  // Its failure report, sent to B, is what A's API serves too.
  const posted = await new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: b.address, port: b.port, method: 'POST', path: '/api/v1/failure-report', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(new URLSearchParams({ mac: N1, stage: 'root', cause: 'sha256 mismatch', report: 'the log of root' }).toString());
  });
  assert.equal(posted, 200);
  let fromA: { stage?: string; cause?: string; text?: string } = {};
  await waitUntilAsync("B's failure report in A's API", async () => {
    const r = await fetch(`http://127.0.0.1:${a.apiPort}/api/v1/nodes/${N1}/failure-report`);
    if (r.status === 200) fromA = await r.json() as typeof fromA;
    return r.status === 200;
  }, 5000);
  assert.deepEqual([fromA.stage, fromA.cause, fromA.text], ['root', 'sha256 mismatch', 'the log of root']);
  const expected = ['127.0.0.2 http done', '127.0.0.3 stage cmdline', '127.0.0.3 failed root'];
  for (const s of [a, b]) {
    let seen: string[] = [];
    await waitUntilAsync(`${s.address} to hold the whole timeline`, async () => (seen = timeline(await nodeEvents(s))).join() === expected.join(), 5000)
      .catch(() => assert.deepEqual(seen, expected, `${s.address}'s timeline`));
    assert.deepEqual(await nodeStatus(s).then((n) => [n.status, n.stage]), ['failed', 'root'], `${s.address}: the node state follows both servers' events`);
  }
  // Each server's /metrics counts what it served, labelled with its address.
  const metrics = async (s: Served) => (await fetch(`http://127.0.0.1:${s.apiPort}/metrics`)).text();
  const [ma, mb] = [await metrics(a), await metrics(b)];
  assert.match(ma, /^diskless_boots_started_total\{server="127\.0\.0\.2"\} 0$/m);
  assert.match(mb, /^diskless_boots_failed_total\{server="127\.0\.0\.3",stage="root"\} 1$/m);
  assert.doesNotMatch(ma, /^diskless_boots_failed_total\{/m, "B's failure is not counted by A");
  assert.match(ma, /^diskless_bytes_served_total\{server="127\.0\.0\.2",protocol="http"\} [1-9]\d*$/m);
  assert.match(mb, /^diskless_bytes_served_total\{server="127\.0\.0\.3",protocol="http"\} 0$/m);
  // B is down while the node reboots through A; started again, B catches up from where it stopped.
  await b.stop();
  await report(a, 'cmdline', 'ok', 'duration_ms=4');
  await report(a, 'booted', 'ok', '');
  const b2 = await serve(t, dir, '127.0.0.3', url);
  await waitUntilAsync('B to catch up', async () => timeline(await nodeEvents(b2)).slice(-2).join() === '127.0.0.2 stage cmdline,127.0.0.2 booted booted', 5000);
  assert.equal(timeline(await nodeEvents(b2)).length, 5, 'nothing twice, nothing lost');
  assert.equal((await nodeStatus(b2)).status, 'booted');
});

test('with the shared database a version pin made by one server is what the other lists and unpins, and a report proven with the key from one server is proven on the other', async (t) => {
  const cluster = await pg.cluster();
  const db = await cluster.database();
  const state = stateUrl(db);
  const dir = await mkdtemp(join(tmpdir(), 'dl-pins-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const a = await serve(t, dir, '127.0.0.2', state);
  const b = await serve(t, dir, '127.0.0.3', state);
  await a.services.pins.set(N1, 'deb', '0123456789abcdef', 'rollout r1');
  await waitUntil('server B holding the pin', () => b.services.pins.get(N1, 'deb') === '0123456789abcdef');
  assert.deepEqual(b.services.rollouts.pins().map((p) => [p.node, p.image, p.version, p.by]), [['n1', 'deb', '0123456789abcdef', 'rollout r1']]);
  assert.deepEqual((await b.services.rollouts.unpin({ nodes: ['n1'] })).map((p) => p.node), ['n1']);
  await waitUntil('server A seeing the pin dropped', () => a.services.pins.get(N1, 'deb') === undefined);

  // Redeemed at A, the report key proves a report sent to B.
  a.services.secretsWindows.openFor(N1, NODE_IP);
  const { token } = await script(a);
  const key = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(`${a.secretsUrl}/api/v1/node-files`, { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      res.resume();
      resolve(String(res.headers['x-diskless-report-key'] ?? ''));
    });
    req.on('error', reject);
    req.end(new URLSearchParams({ token, mac: N1 }).toString());
  });
  const [id, k] = key.split(' ');
  assert.ok(id && k, `a report key in the answer: ${key}`);
  const proof = reportProof(k, id, 'identity', 'ok');
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: b.address, port: b.port, method: 'POST', path: '/api/v1/report', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    // uptime_ms: the boot began with the node's kernel, before its redemption.
    req.end(new URLSearchParams({ mac: N1, stage: 'identity', status: 'ok', detail: '', uptime_ms: '60000', report_id: id, proof }).toString());
  });
  assert.equal(status, 200);
  await waitUntil('the proven report in B\'s node state', () => b.services.observability.states.get(N1)?.boot?.keyedAt === reportIdTime(id));
});
