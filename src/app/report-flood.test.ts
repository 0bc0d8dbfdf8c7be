// 50,000 node reports with made-up MACs at the server an admin runs: the endpoint has no
// authentication, so what a report may create is all that stands between a LAN host and the
// server's memory, the event log and every list the API answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { startServices } from './services.js';
import { countingLogger } from '../testing/counting-logger.js';
import { MiB, settledHeapUsed } from '../testing/heap.js';
import { seededRandom } from '../testing/seeded-random.js';
import { call } from '../api/testdata/api-fixture.js';
import { parseSamples, sampleValue } from '../metrics/testdata/prometheus-text.js';
import { freeTcpPort, freeUdpPort } from '../testing/free-ports.js';

const N1 = '52:54:00:00:00:01';
const STRANGER = '02:00:00:00:00:aa';
const SEED = 0x5e7;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function post(agent: Agent, port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/report', method: 'POST', agent, headers: FORM }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function timed<T>(what: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await what();
  return [value, Math.round(performance.now() - start)];
}

test(`50,000 reports with random MACs are refused: no state, no events, heap near baseline, lists and boot files answer (seed ${SEED})`, { timeout: 300_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-report-flood-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'tftp'));
  await writeFile(join(dir, 'tftp', 'six'), '#!ipxe');
  const port = await freeTcpPort();
  const apiPort = await freeTcpPort();
  const file = join(dir, 'diskless.yaml');
  await writeFile(file, `server:
  address: 127.0.0.1
  http_port: ${port}
  https_port: ${await freeTcpPort()}
  tftp_port: ${await freeUdpPort()}
  state_dir: ${join(dir, 'state')}
  tftp_root: ${join(dir, 'tftp')}
dhcp:
  mode: off
profiles:
  default:
    kernel: /nonexistent/vmlinuz
default_profile: default
api:
  port: ${apiPort}
nodes:
  - mac: ${N1}
    hostname: n1
`);
  const logger = countingLogger();
  const services = await startServices(loadConfig(file), { watchConfig: false, logger });
  t.after(() => services.stop());
  const obs = services.observability;

  // Known machines report: an inventory node, and a stranger that fetched its boot script.
  const report = (mac: string, stage = 'cmdline') => `mac=${mac}&stage=${stage}&status=ok&uptime_ms=1000`;
  assert.equal((await call(port, 'GET', `/boot/${STRANGER.replaceAll(':', '-')}.ipxe`)).status, 200);
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  t.after(() => agent.destroy());
  assert.equal(await post(agent, port, report(N1)), 200);
  assert.equal(await post(agent, port, report(STRANGER)), 200);
  const statesBefore = obs.states.all().length;
  const lastSeqBefore = obs.store.lastSeq;
  const heapBefore = await settledHeapUsed();

  const random = seededRandom(SEED);
  const randomMac = () => Array.from({ length: 6 }, (_, i) => (i === 0 ? 0x02 : Math.floor(random() * 256)).toString(16).padStart(2, '0')).join(':');
  const total = 50_000;
  const statuses = new Map<number, number>();
  let known = 0;
  const [, floodMs] = await timed(async () => {
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        // Every 5,000th is the inventory node's own report: it must still get through.
        const body = i % 5000 === 0 ? report(N1, 'modules') : report(randomMac());
        if (i % 5000 === 0) known += 1;
        const status = await post(agent, port, body);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
  });
  assert.deepEqual(Object.fromEntries(statuses), { 200: known, 403: total - known });

  const heapGrown = (await settledHeapUsed()) - heapBefore;
  assert.equal(obs.states.all().length, statesBefore, 'no state for a machine nobody saw');
  assert.equal(obs.store.lastSeq, lastSeqBefore + known, 'only the known node’s reports became events');
  const [discovered, discoveredMs] = await timed(() => call(apiPort, 'GET', '/api/v1/discovered'));
  assert.deepEqual([discovered.json.discovered.map((m: { mac: string }) => m.mac), discovered.json.next], [[STRANGER], null]);
  const [nodes, nodesMs] = await timed(() => call(apiPort, 'GET', '/api/v1/nodes'));
  assert.deepEqual(nodes.json.nodes.map((n: { mac: string; status: string }) => [n.mac, n.status]), [[N1, 'initramfs']]);
  const [six, sixMs] = await timed(() => call(port, 'GET', '/six'));
  assert.deepEqual([six.status, six.body], [200, '#!ipxe']);
  const samples = parseSamples((await call(apiPort, 'GET', '/metrics')).body);
  assert.equal(sampleValue(samples, 'diskless_reports_refused_total', { reason: 'unknown-mac' }), total - known);
  const refusedLines = logger.count('node report refused');
  assert.ok(refusedLines >= 1 && refusedLines <= 1 + Math.ceil(floodMs / 60_000), `${refusedLines} log lines for ${total - known} refusals`);

  t.diagnostic(`${total} reports in ${floodMs} ms; heap ${(heapGrown / MiB).toFixed(1)} MiB over the start; /api/v1/discovered ${discovered.body.length} bytes in ${discoveredMs} ms; /api/v1/nodes ${nodesMs} ms; 6-byte file ${sixMs} ms; ${refusedLines} log line(s)`);
  assert.ok(heapGrown < 16 * MiB, `heap grew ${(heapGrown / MiB).toFixed(1)} MiB`);
});
