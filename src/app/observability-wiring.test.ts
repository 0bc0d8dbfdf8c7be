// startServices with its boot events, API and /metrics wired in: the server an admin runs,
// on 127.0.0.1 high ports with DHCP off, driven the way /init and the CLI drive it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../config/load.js';
import { startServices, type RunningServices } from './services.js';
import { call } from '../api/testdata/api-fixture.js';
import { request as httpsRequest } from 'node:https';
import { parseSamples, sampleValue } from '../metrics/testdata/prometheus-text.js';
import { statusCommand } from '../cli/status.js';
import { eventsCommand } from '../cli/events.js';
import { API_PREFIX, ENDPOINTS, OPERATION_IDS, type Listener } from '../api/endpoints.js';
import { freeTcpPort, freeUdpPort } from '../testing/free-ports.js';
import { FailureReportStore, failureReportsPath } from '../events/failure-reports.js';

const N1 = '52:54:00:00:00:01';

interface Served {
  dir: string;
  file: string;
  port: number;
  services: RunningServices;
  /** The admin listener (API, /metrics); `port` serves boot files and node reports. */
  apiPort: number;
}

async function serve(t: { after(fn: () => Promise<void>): void }, extra = ''): Promise<Served> {
  const dir = await mkdtemp(join(tmpdir(), 'dl-wiring-'));
  const port = await freeTcpPort();
  const apiPort = await freeTcpPort();
  const file = join(dir, 'diskless.yaml');
  await writeFile(file, `# wiring test
server:
  address: 127.0.0.1
  http_port: ${port}
  https_port: ${await freeTcpPort()}
  tftp_port: ${await freeUdpPort()}
  state_dir: ${join(dir, 'state')}
dhcp:
  mode: off
profiles:
  default:
    kernel: /nonexistent/vmlinuz
nodes:
  - mac: ${N1}
    hostname: n1
api:
  port: ${apiPort}
${extra}`);
  const services = await startServices(loadConfig(file), { watchConfig: false });
  t.after(async () => {
    await services.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, file, port, apiPort, services };
}

function report(port: number, stage: string, status: string, detail: string, uptimeMs: number) {
  const body = new URLSearchParams({ mac: N1, stage, status, detail, uptime_ms: String(uptimeMs) }).toString();
  return call(port, 'POST', '/api/v1/report', { body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
}

test('stage reports become node state, an ordered timeline, a failure with stage and cause, and metrics', async (t) => {
  const { port, apiPort } = await serve(t);
  for (const [stage, detail, uptime] of [['cmdline', 'duration_ms=3', 1003], ['modules', 'duration_ms=900', 1905], ['network', 'duration_ms=1500', 3410]] as const) {
    assert.equal((await report(port, stage, 'ok', detail, uptime)).status, 200);
  }
  const running = await call(apiPort, 'GET', `/api/v1/nodes/${N1}`);
  assert.equal(running.status, 200);
  assert.equal(running.json.hostname, 'n1');
  assert.equal(running.json.status, 'initramfs');
  assert.equal(running.json.stage, 'root', 'after network comes root');
  assert.deepEqual(running.json.timeline.map((r: any) => [r.name, r.status, r.durationMs]), [['cmdline', 'ok', 3], ['modules', 'ok', 900], ['network', 'ok', 1500]]);
  const starts = running.json.timeline.map((r: any) => r.start as number);
  assert.deepEqual([...starts].sort((a, b) => a - b), starts, 'rows in the order they ran');

  assert.equal((await report(port, 'root', 'failed', 'sha256 mismatch', 9000)).status, 200);
  const failed = await call(apiPort, 'GET', `/api/v1/nodes/${N1}`);
  assert.deepEqual([failed.json.status, failed.json.stage, failed.json.cause], ['failed', 'root', 'sha256 mismatch']);
  assert.deepEqual(failed.json.failure, { stage: 'root', cause: 'sha256 mismatch' });
  assert.deepEqual(failed.json.timeline.at(-1).name, 'root');
  const list = await call(apiPort, 'GET', '/api/v1/nodes');
  assert.deepEqual(list.json.nodes.map((n: any) => [n.mac, n.status]), [[N1, 'failed']]);

  const metrics = await call(apiPort, 'GET', '/metrics');
  assert.equal(metrics.status, 200);
  const samples = parseSamples(metrics.body);
  assert.equal(sampleValue(samples, 'diskless_boots_started_total'), 1);
  assert.equal(sampleValue(samples, 'diskless_boots_failed_total', { stage: 'root' }), 1);
  assert.equal(sampleValue(samples, 'diskless_boots_finished_total'), 0);
});

test('writes need the admin token from admin_token_file (made 0600 at start) and edit the YAML file', async (t) => {
  const { apiPort, file, dir, services } = await serve(t);
  const tokenFile = join(dir, 'state', 'admin-token');
  assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
  const token = (await readFile(tokenFile, 'utf8')).trim();
  assert.ok(token.length >= 32);

  const body = JSON.stringify({ mac: '52:54:00:00:00:02', hostname: 'n2' });
  assert.equal((await call(apiPort, 'POST', '/api/v1/nodes', { body })).status, 401);
  assert.equal((await call(apiPort, 'POST', '/api/v1/nodes', { body, headers: { authorization: 'Bearer wrong-token-0000' } })).status, 403);
  const added = await call(apiPort, 'POST', '/api/v1/nodes', { body, headers: { authorization: `Bearer ${token}` } });
  assert.equal(added.status, 201, added.body);
  const text = await readFile(file, 'utf8');
  assert.match(text, /^# wiring test$/m, 'the comment survives the edit');
  assert.match(text, /- mac: 52:54:00:00:00:02\n\s+hostname: n2/);
  const nodes = await call(apiPort, 'GET', '/api/v1/nodes');
  assert.deepEqual(nodes.json.nodes.map((n: any) => n.hostname), ['n1', 'n2'], 'visible at once: the write reloads the config');
  assert.equal(services.observability.store.lastSeq, 0, 'API calls are not boot events');

  const dup = await call(apiPort, 'POST', '/api/v1/nodes', { body, headers: { authorization: `Bearer ${token}` } });
  assert.equal(dup.status, 400);
  assert.match(dup.json.error, /already used by n2/);
});

test('a boot script fetched for another machine is recorded as an alert event', async (t) => {
  const { port, apiPort, services } = await serve(t);
  // n1 is booting; 127.0.0.1 is in no neighbour table and not the address DHCP gave n1.
  services.secretsWindows.openFor(N1, '10.0.0.5');
  assert.equal((await call(port, 'GET', '/boot/52-54-00-00-00-01.ipxe')).status, 200);
  const events = await call(apiPort, 'GET', '/api/v1/events?limit=10');
  const alert = events.json.events.find((e: any) => e.kind === 'alert');
  assert.ok(alert, JSON.stringify(events.json.events));
  assert.deepEqual([alert.name, alert.mac, alert.ip], ['script-for-other-machine', N1, '127.0.0.1']);
});

test('reads from outside api.read_from are refused: API and /metrics', async (t) => {
  const { port, apiPort, file } = await serve(t, '  read_from: [10.77.0.0/24]\n');
  const nodes = await call(apiPort, 'GET', '/api/v1/nodes');
  assert.equal(nodes.status, 403);
  assert.equal((await call(apiPort, 'GET', '/metrics')).status, 403);
  // Node reports are not API reads: a node outside read_from still reports.
  assert.equal((await report(port, 'cmdline', 'ok', 'duration_ms=1', 10)).status, 200);
  await assert.rejects(statusCommand(['--config', file]), /\/api\/v1\/nodes: Reads are not allowed from this address \(this machine is not in api\.read_from/);
});

test('diskless status and events against the running server', async (t) => {
  const { port, file } = await serve(t);
  await report(port, 'cmdline', 'ok', 'duration_ms=3', 1003);
  await report(port, 'root', 'failed', 'sha256 mismatch', 5000);
  let out = '';
  assert.equal(await statusCommand(['--config', file], { stdout: (s) => (out += s), now: () => Date.now() }), 0);
  const [head, row] = out.trim().split('\n');
  assert.match(head!, /^HOSTNAME\s+MAC\s+ADDRESS\s+STATE\s+STAGE\s+SINCE\s+IMAGE\s+LAST EVENT$/);
  assert.match(row!, /^n1\s+52:54:00:00:00:01\s+127\.0\.0\.1\s+failed\s+root\s+\d+s\s+-\s+failed root: sha256 mismatch$/);
  out = '';
  await statusCommand(['--config', file, '--json'], { stdout: (s) => (out += s) });
  assert.equal(JSON.parse(out)[0].cause, 'sha256 mismatch');

  out = '';
  assert.equal(await eventsCommand(['--config', file, '--node', 'n1', '--limit', '5'], { stdout: (s) => (out += s) }), 0);
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT[\d:.]+Z\s+n1\s+stage\s+cmdline\s+duration_ms=3\s+\(3 ms\)$/);
  assert.match(lines[1]!, /\s+n1\s+failed\s+root\s+sha256 mismatch$/);

  // --follow: the last one, then what happens next, until interrupted.
  const ac = new AbortController();
  let followed = '';
  const following = eventsCommand(['--config', file, '--follow', '--limit', '1'], { stdout: (s) => (followed += s), signal: ac.signal, retryMs: 50 });
  await waitFor(() => followed.includes('sha256 mismatch'));
  await report(port, 'cmdline', 'ok', 'duration_ms=4', 800);
  await waitFor(() => followed.includes('duration_ms=4'));
  ac.abort();
  assert.equal(await following, 0);
  assert.equal(followed.trim().split('\n').length, 2);
});

test('diskless status says the server is not running when nothing listens', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-wiring-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'd.yaml');
  await writeFile(file, `server: { address: 127.0.0.1, http_port: ${await freeTcpPort()}, state_dir: ${dir} }\ndhcp: { mode: off }\napi: { port: ${await freeTcpPort()} }\nprofiles: { default: { kernel: /k } }\n`);
  await assert.rejects(statusCommand(['--config', file]), /Cannot reach the Diskless server at http:\/\/127\.0\.0\.1:\d+: connection refused\. Is "diskless serve --config FILE" running/);
});

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

test('three listeners: boot files and reports in the clear, node files only over TLS, the API only on the admin listener', async (t) => {
  const { port, apiPort, services } = await serve(t);
  // The boot listener has no API, no dashboard and no node files.
  assert.equal((await call(port, 'GET', '/api/v1/nodes')).status, 404);
  assert.equal((await call(port, 'GET', '/metrics')).status, 404);
  const clear = await call(port, 'POST', '/api/v1/node-files', { body: 'token=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(clear.status, 403);
  assert.match(clear.body, new RegExp(`over HTTPS only, at https://127\\.0\\.0\\.1:${services.https.port}/api/v1/node-files`));
  // The HTTPS listener presents the server's certificate and answers node files.
  const tls = await new Promise<{ fingerprint: string; status: number }>((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: services.https.port, method: 'POST', path: '/api/v1/node-files', ca: services.certificate.certPem, checkServerIdentity: () => undefined, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      res.resume();
      resolve({ fingerprint: (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256, status: res.statusCode ?? 0 });
    });
    req.on('error', reject);
    req.end('token=x');
  });
  assert.deepEqual(tls, { fingerprint: services.certificate.fingerprint, status: 403 });
  // The admin listener answers only to its own names: a rebound DNS name is refused.
  assert.equal((await call(apiPort, 'GET', '/api/v1/nodes')).status, 200);
  const rebound = await call(apiPort, 'GET', '/api/v1/nodes', { headers: { host: `evil.example:${apiPort}` } });
  assert.equal(rebound.status, 421);
  assert.match(rebound.json.error, /does not answer to the host name "evil\.example:\d+"/);
  assert.equal((await call(apiPort, 'GET', '/', { headers: { host: `localhost:${apiPort}` } })).status, 200, 'the dashboard, by localhost');
});

test('each listener answers exactly the /api/v1 endpoints declared on it', async (t) => {
  const { port, apiPort, services } = await serve(t);
  const ports: Record<Listener, number> = { admin: apiPort, boot: port, secrets: services.https.port };
  const send = (listener: Listener, method: string, path: string) => listener === 'secrets' ? httpsCall(services, method, path) : call(ports[listener], method, path);
  for (const id of OPERATION_IDS) {
    const { path, listener } = ENDPOINTS[id];
    const url = API_PREFIX + path.replace('{mac}', N1).replace('{name}', 'debian');
    // No endpoint takes DELETE: its own listener names the methods it does take.
    const own = await send(listener, 'DELETE', url);
    const methods = OPERATION_IDS.filter((other) => ENDPOINTS[other].path === path && ENDPOINTS[other].listener === listener).map((other) => ENDPOINTS[other].method);
    assert.deepEqual([own.status, own.headers.allow], [405, methods.join(', ')], `${id} on ${listener}`);
    for (const elsewhere of (['admin', 'boot', 'secrets'] as const).filter((l) => l !== listener)) {
      // The boot listener sends node files' callers to the HTTPS listener instead (nodeFilesOnlyOverTls).
      const expected = id === 'nodeFiles' && elsewhere === 'boot' ? 403 : 404;
      assert.equal((await send(elsewhere, 'GET', url)).status, expected, `${id} on ${elsewhere}`);
    }
  }
});

function httpsCall(services: RunningServices, method: string, path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: services.https.port, method, path, ca: services.certificate.certPem, checkServerIdentity: () => undefined }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a failure report a node sends is kept, in the API and in diskless status NODE, and survives a restart of the server', async (t) => {
  const { port, apiPort, file, dir } = await serve(t);
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  assert.equal((await call(apiPort, 'GET', `/api/v1/nodes/${N1}/failure-report`)).status, 404);
  await report(port, 'root', 'failed', 'NBD export gone', 4000);
  const body = new URLSearchParams({ mac: N1, stage: 'root', cause: 'NBD export gone', report: '== diskless failure report ==\nstage: root\n\x1b]0;title\x07rd.diskless.token=abcdef0123 was on the line\n' }).toString();
  assert.equal((await call(port, 'POST', '/api/v1/failure-report', { body, headers: form })).status, 200);
  const detail = await call(apiPort, 'GET', `/api/v1/nodes/${N1}`);
  assert.deepEqual([detail.json.failureReport.stage, detail.json.failureReport.cause, detail.json.failureReport.truncated], ['root', 'NBD export gone', false]);
  const full = await call(apiPort, 'GET', `/api/v1/nodes/${N1}/failure-report`);
  assert.equal(full.status, 200);
  assert.equal(full.json.text, '== diskless failure report ==\nstage: root\n?]0;title?rd.diskless.token=(removed) was on the line\n', 'control characters and the token are gone');

  let out = '';
  assert.equal(await statusCommand(['--config', file, 'n1'], { stdout: (s) => (out += s), now: () => Date.now() }), 0);
  assert.match(out, /^n1 \(52:54:00:00:00:01\)\n  state    failed \(root\), \d+s ago\n/);
  assert.match(out, /^  failure  root: NBD export gone$/m);
  assert.match(out, /^Last failure report, received \S+ \(\d+ B\): stage root: NBD export gone\n  == diskless failure report ==\n  stage: root\n/m);
  out = '';
  await statusCommand(['--config', file, '--json', N1], { stdout: (s) => (out += s) });
  assert.match(JSON.parse(out).failureReport.text, /^== diskless failure report ==/);
  await assert.rejects(statusCommand(['--config', file, 'nosuchnode']), /"nosuchnode" is neither a host name in .* nor a MAC address/);

  // The state file holds it for the next run (written within a second of the change): 0600, a
  // report holds a node's logs.
  const path = failureReportsPath(join(dir, 'state'));
  for (const deadline = Date.now() + 10_000; new FailureReportStore({ path }).get(N1) === undefined;) {
    if (Date.now() > deadline) throw new Error(`${path} never held the report`);
    await sleep(50);
  }
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal(new FailureReportStore({ path }).get(N1)?.cause, 'NBD export gone');
});
