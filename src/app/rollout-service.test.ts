// Rollouts in the real server: startServices on 127.0.0.1 high ports, its API over real HTTP,
// nodes behind OpenIPMI's ipmi_sim BMCs driven by the real ipmitool. Each BMC's "machine" is a
// shell script that does over the server's real HTTP what /init does for a live root: it
// fetches its boot script, reports its first stage, downloads the root the script names and
// checks it against the script's rd.diskless.sha256, then reports the failed stage, or redeems
// the script's secrets token over TLS (curl pinned to the server's certificate) and reports
// "booted" with the proof the answer's report key gives (openssl, as /init computes it). Each
// machine talks from its own loopback address, as nodes have their own. DHCP runs (proxy mode, on
// free loopback ports: a rollout refuses a server whose DHCP never opens secrets windows), but no
// machine asks it: the window a PXE exchange would open is opened by the test as it powers the
// machine on.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFile, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { loadConfig } from '../config/load.js';
import { startServices, type RunningServices } from './services.js';
import { call } from '../api/testdata/api-fixture.js';
import { ImageStore } from '../images/store/image-store.js';
import { BmcSim } from '../lab/bmc-sim.js';
import { freeTcpPort, freeUdpPort } from '../testing/free-ports.js';
import type { Rollout } from '../rollout/plan.js';
import { rolloutCommand } from '../cli/rollout.js';
import { run } from '../process/run.js';
import type { IpmiRunner } from '../power/ipmi.js';

const TOKEN = 'rollout-test-admin-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const MACS = ['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:03'];

interface Lab {
  dir: string;
  file: string;
  httpPort: number;
  httpsPort: number;
  apiPort: number;
  store: ImageStore;
  /** v1 published, bad (its root.sqfs no longer matches its manifest), good. */
  v1: string;
  bad: string;
  good: string;
  /** Services started in this lab, stopped (newest first) before its directory is removed. */
  stops: Array<() => Promise<void>>;
}

async function lab(t: { after(fn: () => Promise<void>): void }, nodeYaml: (i: number, mac: string) => string, extra = ''): Promise<Lab> {
  const dir = await mkdtemp(join(tmpdir(), 'dl-rollout-'));
  // node:test runs after-hooks in the order they were added, and one that throws skips the
  // rest: the services writing into the directory stop here first, so its removal cannot race
  // them, and a failed removal cannot leave them running (and the test process alive).
  const stops: Lab['stops'] = [];
  t.after(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await rm(dir, { recursive: true, force: true });
  });
  const store = new ImageStore({ root: join(dir, 'state', 'images') });
  const add = async (content: string) => {
    const src = join(dir, `src-${content}`);
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'f'), content);
    execFileSync('mksquashfs', [src, `${src}.sqfs`, '-comp', 'gzip', '-noappend', '-quiet', '-no-progress']);
    await writeFile(`${src}.k`, `kernel-${content}`);
    await writeFile(`${src}.i`, `initrd-${content}`);
    return (await store.addVersion('deb', { squashfs: `${src}.sqfs`, kernel: `${src}.k`, initrd: `${src}.i`, kernelVersion: '6.1.0-test' })).version;
  };
  const v1 = await add('one');
  const bad = await add('bad');
  const good = await add('good');
  await store.publish('deb', v1);
  // The broken version: its root was damaged after it was stored, so its checksum fails on the node.
  await appendFile(store.paths('deb', bad).rootSqfs, 'damaged');
  const httpPort = await freeTcpPort();
  const httpsPort = await freeTcpPort();
  const apiPort = await freeTcpPort();
  await writeFile(join(dir, 'token'), TOKEN, { mode: 0o600 });
  const file = join(dir, 'diskless.yaml');
  await writeFile(file, `server:
  address: 127.0.0.1
  http_port: ${httpPort}
  https_port: ${httpsPort}
  tftp_port: ${await freeUdpPort()}
  state_dir: ${join(dir, 'state')}
dhcp:
  mode: proxy
api:
  port: ${apiPort}
  admin_token_file: ${join(dir, 'token')}
profiles:
  deb: { image: deb }
nodes:
${MACS.map((mac, i) => nodeYaml(i, mac)).join('\n')}
${extra}`);
  return { dir, file, httpPort, httpsPort, apiPort, store, v1, bad, good, stops };
}

/** The loopback address machine i talks from. */
const ipOf = (i: number) => `127.0.1.${i + 1}`;

/**
 * Starts the server. `bmcPorts[i]` is machine i's BMC: powering it on or cycling it through
 * ipmitool first opens its secrets window, as its firmware's DHCP exchange with us would.
 */
async function serve(l: Lab, bmcPorts: number[] = []): Promise<RunningServices> {
  let windows: RunningServices['secretsWindows'] | undefined;
  const ipmi: IpmiRunner = (argv, o) => {
    const i = bmcPorts.findIndex((p) => argv.includes(String(p)));
    if (i >= 0 && (argv.includes('cycle') || argv.includes('on'))) windows?.openFor(MACS[i]!, ipOf(i));
    return run(argv, o);
  };
  // Proxy DHCP on free loopback ports: nothing asks it, but a rollout needs a server whose DHCP opens secrets windows.
  const dhcpPorts = { server: await freeUdpPort(), client: await freeUdpPort(), proxy: await freeUdpPort() };
  const services = await startServices(loadConfig(l.file), { watchConfig: false, rolloutTickMs: 50, ipmi, dhcpPorts });
  windows = services.secretsWindows;
  let stopped = false;
  l.stops.push(async () => {
    if (!stopped) await services.stop();
  });
  const stop = services.stop;
  return { ...services, stop: async () => { stopped = true; await stop(); } };
}

/** The machine behind a BMC: one boot per power-on, each version it was given appended to `boots`. */
async function machineScript(l: Lab, i: number): Promise<string> {
  const mac = MACS[i]!;
  const ip = ipOf(i);
  const path = join(l.dir, `machine-${i + 1}.sh`);
  await writeFile(path, `#!/bin/sh
base=http://127.0.0.1:${l.httpPort}
c() { curl -sf --interface ${ip} "$@"; }
report() { stage=$1 status=$2 detail=$3; shift 3; c -o /dev/null --data-urlencode "mac=${mac}" --data-urlencode "stage=$stage" --data-urlencode "status=$status" --data-urlencode "detail=$detail" "$@" "$base/api/v1/report"; }
script=$(c "$base/boot/${mac.replace(/:/g, '-')}.ipxe")
v=$(printf '%s\\n' "$script" | sed -n 's|.*/store/deb/\\([0-9a-f]\\{16\\}\\)/root\\.sqfs.*|\\1|p' | head -n 1)
want=$(printf '%s\\n' "$script" | sed -n 's|.*rd\\.diskless\\.sha256=\\([0-9a-f]\\{64\\}\\).*|\\1|p' | head -n 1)
echo "$v" >> ${l.dir}/boots-${i + 1}
report cmdline ok duration_ms=1
got=$(c "$base/store/deb/$v/root.sqfs" | sha256sum | cut -d' ' -f1)
if [ -z "$want" ] || [ "$got" != "$want" ]; then report root failed "sha256 mismatch for root.sqfs: got $got, want $want"
else
  token=$(printf '%s\\n' "$script" | sed -n 's|.*rd\\.diskless\\.token=\\([A-Za-z0-9_-]*\\).*|\\1|p' | head -n 1)
  key=$(curl -sf --interface ${ip} --cacert ${join(l.dir, 'state', 'tls', 'server.crt')} -D - -o /dev/null --data-urlencode "token=$token" --data-urlencode "mac=${mac}" "https://127.0.0.1:${l.httpsPort}/api/v1/node-files" | tr -d '\\r' | sed -n 's/^x-diskless-report-key: //p')
  id=\${key% *}
  proof=$(printf 'diskless-report\\n%s\\nbooted\\nok' "$id" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:\${key#* }" | sed 's/.* //')
  report booted ok '' --data-urlencode "report_id=$id" --data-urlencode "proof=$proof"
fi
# Behind a BMC the machine stays on until powered off; without one the test plays each boot.
[ "$1" = stay ] && exec sleep 1000
exit 0
`);
  await chmod(path, 0o755);
  return path;
}

const boots = async (l: Lab, i: number) => (await readFile(join(l.dir, `boots-${i + 1}`), 'utf8').catch(() => '')).split('\n').filter(Boolean);

async function rollout(l: Lab, id?: string): Promise<Rollout> {
  const r = await call(l.apiPort, 'GET', id ? `/api/v1/rollouts/${id}` : '/api/v1/rollouts');
  assert.equal(r.status, 200, r.body);
  return id ? r.json : r.json.current;
}

/** Polls the API until `check` holds for the current rollout. */
async function until(l: Lab, what: string, check: (r: Rollout) => boolean, ms = 60_000): Promise<Rollout> {
  let last: Rollout | undefined;
  await poll(what, async () => {
    last = await rollout(l);
    return last !== null && last !== undefined && check(last);
  }, ms).catch((e: Error) => {
    throw new Error(`${e.message}: ${JSON.stringify(last, null, 1)}`);
  });
  return last!;
}

/** Polls an asynchronous condition until it holds, within a bound for a hung test. */
async function poll(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const statusOf = (r: Rollout) => r.nodes.map((n) => `${n.name}:${n.status}`).join(' ');

test('rollouts through real BMCs: a broken version fails on the canary and goes back, the others never see it; a good one reaches all in two waves and is published', async (t) => {
  const sims: BmcSim[] = [];
  t.after(async () => {
    for (const s of sims) await s.stop();
  });
  const l = await lab(t, (i, mac) => `  - { mac: "${mac}", hostname: n${i + 1}, profile: deb, power: { ipmi: 127.0.0.1, port: PORT${i}, user: admin, password_file: PW${i} } }`);
  let yaml = await readFile(l.file, 'utf8');
  for (let i = 0; i < 3; i++) {
    const d = join(l.dir, `bmc-${i + 1}`);
    const sim = await BmcSim.start({ dir: d, address: '127.0.0.1', port: await freeUdpPort(), vmPort: await freeTcpPort(), user: 'admin', password: `pw-${i}`, startArgv: ['sh', await machineScript(l, i), 'stay'] });
    sims.push(sim);
    yaml = yaml.replace(`PORT${i}`, String(sim.options.port)).replace(`PW${i}`, sim.passwordFile);
  }
  await writeFile(l.file, yaml);
  await serve(l, sims.map((s) => s.options.port));

  // Refusals first: no token, an unknown version, a node that does not boot the image.
  assert.equal((await call(l.apiPort, 'POST', '/api/v1/rollouts', { body: JSON.stringify({ image: 'deb', version: l.bad }) })).status, 401);
  const unknown = await call(l.apiPort, 'POST', '/api/v1/rollouts', { body: JSON.stringify({ image: 'deb', version: 'ffffffffffffffff' }), headers: auth });
  assert.equal(unknown.status, 404, unknown.body);
  const nobody = await call(l.apiPort, 'POST', '/api/v1/rollouts', { body: JSON.stringify({ image: 'deb', version: l.bad, nodes: ['n9'] }), headers: auth });
  assert.equal(nobody.status, 404, nobody.body);
  assert.match(nobody.json.error, /no node n9/);

  const started = await call(l.apiPort, 'POST', '/api/v1/rollouts', { body: JSON.stringify({ image: 'deb', version: l.bad, canary: 1, batch: 1, maxFailed: 1, timeoutSec: 120 }), headers: auth });
  assert.equal(started.status, 201, started.body);
  const busy = await call(l.apiPort, 'POST', '/api/v1/rollouts', { body: JSON.stringify({ image: 'deb', version: l.good }), headers: auth });
  assert.equal(busy.status, 409, 'one rollout at a time');
  assert.equal(busy.json.code, 'DL_ROLLOUT');

  const stopped = await until(l, 'the canary to fail and boot the old version again', (r) => r.nodes[0]!.status === 'rolled-back');
  assert.equal(stopped.status, 'stopped');
  assert.match(stopped.message!, /^canary n1 failed in stage root: sha256 mismatch for root\.sqfs/);
  assert.deepEqual(stopped.nodes[0]!.failure?.stage, 'root');
  assert.equal(statusOf(stopped), 'n1:rolled-back n2:skipped n3:skipped');
  assert.deepEqual(await boots(l, 0), [l.bad, l.v1], 'the canary booted the broken version, then the old one');
  assert.deepEqual([await boots(l, 1), await boots(l, 2)], [[], []], 'the other two were never powered, never given it');
  const pins = JSON.parse(await readFile(join(l.dir, 'state', 'version-pins.json'), 'utf8'));
  assert.deepEqual(pins.nodes, {}, 'the canary follows the published version again');
  const n1 = (await call(l.apiPort, 'GET', `/api/v1/nodes/${MACS[0]}`)).json;
  assert.equal(n1.status, 'booted');
  assert.equal(n1.booted.version, l.v1);

  // The CLI starts the good one and shows its progress live until it has ended.
  let shown = '';
  const code = await rolloutCommand(['deb', l.good, '--config', l.file, '--canary', '1', '--batch', '50%', '--timeout', '120'], { stdout: (s) => void (shown += s) });
  assert.equal(code, 0, shown);
  const good = { json: await rollout(l) };
  assert.equal(good.json.waves, 2, 'the canary, then one batch of two');
  assert.match(shown, new RegExp(`^rollout ${good.json.id}: deb@${l.good} to 3 node\\(s\\) in 2 wave\\(s\\)\n`));
  assert.match(shown, /\d\d:\d\d:\d\d  wave +canaries: n1\n(.*\n)*.*node-done +n1 booted deb@/);
  assert.match(shown, /completed +3 node\(s\) run deb@[0-9a-f]{16}\n(.*\n)*.*published +deb@/);
  assert.match(shown, /rollout \S+ +deb@\S+ +completed\n/);
  const done = await rollout(l);
  assert.equal(done.status, 'completed');
  assert.equal(statusOf(done), 'n1:done n2:done n3:done');
  assert.deepEqual((await Promise.all([0, 1, 2].map((i) => boots(l, i)))).map((b) => b.at(-1)), [l.good, l.good, l.good]);
  // A rollout over the whole image with no failure publishes the version (just after "completed").
  await poll('the good version published', async () => (await call(l.apiPort, 'GET', '/api/v1/images')).json.images.find((i: { name: string }) => i.name === 'deb').published === l.good);
  await poll('the published event', async () => (await call(l.apiPort, 'GET', '/api/v1/events?limit=1000')).json.events.some((e: { kind: string; name: string }) => e.kind === 'rollout' && e.name === 'published'));
  assert.deepEqual(JSON.parse(await readFile(join(l.dir, 'state', 'version-pins.json'), 'utf8')).nodes, {});

  // Every step is on the event stream, and both rollouts are listed.
  const events = (await call(l.apiPort, 'GET', '/api/v1/events?limit=1000')).json.events.filter((e: { kind: string }) => e.kind === 'rollout');
  const names = events.map((e: { name: string; mac?: string }) => `${e.name}${e.mac ? `@${e.mac.slice(-1)}` : ''}`);
  assert.deepEqual(names, [
    'started', 'wave', 'power-cycled@1', 'node-failed@1', 'node-rollback@1', 'stopped', 'power-cycled@1', 'node-rolled-back@1',
    'started', 'wave', 'power-cycled@1', 'node-done@1', 'wave', ...names.slice(13, 15), ...names.slice(15, 17), 'completed', 'published',
  ]);
  assert.deepEqual(names.slice(13, 17).sort(), ['node-done@2', 'node-done@3', 'power-cycled@2', 'power-cycled@3']);
  const list = (await call(l.apiPort, 'GET', '/api/v1/rollouts')).json;
  assert.deepEqual([list.current.id, list.history.map((r: Rollout) => r.id)], [good.json.id, [started.json.id]]);
});

test('a rollout survives a restart mid-batch; pause, resume and abort from the CLI; nodes without a BMC are waited for', async (t) => {
  const l = await lab(t, (i, mac) => `  - { mac: "${mac}", hostname: n${i + 1}, profile: deb }`);
  const scripts = await Promise.all([0, 1, 2].map((i) => machineScript(l, i)));
  /** One boot of node i, as its /init would do it (no BMC: the test is the reboot). */
  const bootNode = async (i: number) => {
    services.secretsWindows.openFor(MACS[i]!, ipOf(i));
    await run(['sh', scripts[i]!], { timeoutMs: 60_000 });
  };
  const cli = async (...args: string[]) => {
    let text = '';
    const code = await rolloutCommand([...args, '--config', l.file], { stdout: (s) => void (text += s) });
    return { code, text };
  };
  let services = await serve(l);

  const start = await cli('deb', l.good, '--canary', '1', '--batch', '1', '--max-failed', '1', '--timeout', '300', '--no-wait');
  assert.equal(start.code, 0, start.text);
  let r = await until(l, 'the canary waiting', (x) => x.nodes[0]!.status === 'waiting');
  assert.equal(statusOf(r), 'n1:waiting n2:pending n3:pending');
  const waitingEvent = (await call(l.apiPort, 'GET', `/api/v1/nodes/${MACS[0]}/events`)).json.events.find((e: { kind: string; name: string }) => e.kind === 'rollout' && e.name === 'waiting');
  assert.match(waitingEvent?.detail ?? '', /n1 has no BMC \(power:\): waiting for it to reboot/);

  // The server restarts while the canary is in flight: the rollout and its pin are read back.
  await services.stop();
  services = await serve(l);
  r = await rollout(l);
  assert.equal(statusOf(r), 'n1:waiting n2:pending n3:pending');
  await bootNode(0);
  r = await until(l, 'the first batch after the canary', (x) => x.nodes[1]!.status === 'waiting');
  assert.equal(statusOf(r), 'n1:done n2:waiting n3:pending');
  assert.deepEqual(await boots(l, 0), [l.good], 'the pin survived the restart');

  const paused = await cli('pause');
  assert.equal(paused.code, 0, paused.text);
  assert.match(paused.text, /deb@[0-9a-f]{16} +paused \(wave 2 of 3\)/);
  await bootNode(1);
  r = await until(l, 'n2 done', (x) => x.nodes[1]!.status === 'done');
  assert.equal(statusOf(r), 'n1:done n2:done n3:pending', 'paused: no new batch');
  assert.equal(r.status, 'paused');
  assert.equal((await cli('resume')).code, 0);
  r = await until(l, 'n3 moving', (x) => x.nodes[2]!.status === 'waiting');
  assert.equal(r.status, 'running');
  // A node the rollout is watching keeps its pin.
  await assert.rejects(cli('unpin', 'n3'), /Cannot unpin n3: rollout \S+ is watching its boot/);

  const aborted = await cli('abort');
  assert.equal(aborted.code, 0, aborted.text);
  assert.match(aborted.text, /aborted\n {2}canary 1, batch 1, max failed 1, timeout 300 s\n {2}aborted by the admin\n/);
  await assert.rejects(cli('resume'), /Cannot resume rollout \S+: it is aborted/, 'an aborted rollout does not resume');
  // n3, in flight, is still watched: its failure sends it back to the version it ran.
  const report = (stage: string, status: string, detail: string, extra: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      const body = new URLSearchParams({ mac: MACS[2]!, stage, status, detail, ...extra }).toString();
      const req = request({ host: '127.0.0.1', port: l.httpPort, method: 'POST', path: '/api/v1/report', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
  // Forged reports: a "booted" with a proof that is not n3's is refused; one without a proof is
  // taken onto the timeline but never counts as booted (were it counted, n3 would be done and
  // the failure after it would not send it back).
  assert.equal(await report('booted', 'ok', '', { report_id: `${Date.now()}-0123456789abcdef`, proof: 'ab'.repeat(32) }), 403);
  assert.equal(await report('booted', 'ok', ''), 200);
  await poll('the forged report on the timeline', async () => (await call(l.apiPort, 'GET', `/api/v1/nodes/${MACS[2]}`)).json.status === 'booted');
  assert.equal(await report('cmdline', 'ok', 'duration_ms=1'), 200);
  assert.equal(await report('network', 'failed', 'no DHCP lease on ens3'), 200);
  r = await until(l, 'n3 sent back', (x) => x.nodes[2]!.status === 'rolling-back');
  assert.deepEqual(r.nodes[2]!.failure, { stage: 'network', cause: 'no DHCP lease on ens3' });
  await bootNode(2);
  r = await until(l, 'n3 back on the old version', (x) => x.nodes[2]!.status === 'rolled-back');
  assert.deepEqual(await boots(l, 2), [l.v1]);

  const status = await cli('status');
  assert.equal(status.code, 1, 'aborted, with a failed node');
  assert.match(status.text, /^ {2}n1 +canary +done *$/m);
  assert.match(status.text, /^ {2}n3 +batch 2 +rolled-back +failed in network: no DHCP lease on ens3; runs [0-9a-f]{16} again$/m);
  // The moved nodes stay pinned (the rollout did not cover every node without a failure); n3 follows the published version.
  const pins = JSON.parse(await readFile(join(l.dir, 'state', 'version-pins.json'), 'utf8')).nodes;
  assert.deepEqual(Object.keys(pins).sort(), [MACS[0], MACS[1]]);
  assert.equal((await call(l.apiPort, 'GET', '/api/v1/images')).json.images[0].published, l.v1);

  // The pins left behind: listed, then dropped by node and by image; never all by default.
  const listed = await cli('pins');
  assert.equal(listed.code, 0);
  assert.match(listed.text, new RegExp(`^ {2}n1 +deb +${l.good} +\\d{4}-\\d\\d-\\d\\dT\\S+ +rollout ${r.id}$`, 'm'));
  assert.match(listed.text, new RegExp(`^ {2}n2 +deb +${l.good} `, 'm'));
  assert.equal(listed.text.split('\n').filter(Boolean).length, 3, 'a header and two pins');
  assert.match((await cli('pins', '--image', 'other')).text, /^no version pins/);
  await assert.rejects(cli('unpin'), /rollout unpin: name the nodes, or give --image I/);
  const none = await call(l.apiPort, 'POST', '/api/v1/pins/unpin', { body: '{}', headers: auth });
  assert.equal(none.status, 400, 'the API never unpins every node either');
  assert.equal((await call(l.apiPort, 'POST', '/api/v1/pins/unpin', { body: JSON.stringify({ nodes: ['n1'] }) })).status, 401);
  await assert.rejects(cli('unpin', 'n9'), /no node n9/);
  const one = await cli('unpin', 'n1');
  assert.match(one.text, /^unpinned .*\n.*\n {2}n1 +deb /);
  assert.deepEqual(Object.keys(JSON.parse(await readFile(join(l.dir, 'state', 'version-pins.json'), 'utf8')).nodes), [MACS[1]]);
  const rest = await call(l.apiPort, 'POST', '/api/v1/pins/unpin', { body: JSON.stringify({ image: 'deb' }), headers: auth });
  assert.equal(rest.status, 200, rest.body);
  assert.deepEqual(rest.json.unpinned.map((p: { node: string; version: string }) => [p.node, p.version]), [['n2', l.good]]);
  assert.deepEqual(JSON.parse(await readFile(join(l.dir, 'state', 'version-pins.json'), 'utf8')).nodes, {});
  assert.deepEqual((await call(l.apiPort, 'GET', '/api/v1/pins')).json, { pins: [] });
});
