// startServices with DHCP on behind a real ISC dhcrelay: a node listed by its MAC and its switch
// port (rack1) boots from rack9, and the server records a node-on-other-port alert that the API
// serves, once for that port, while still serving the node by its MAC.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../config/load.js';
import { startServices, type RunningServices } from './services.js';
import { call } from '../api/testdata/api-fixture.js';
import { freeTcpPort, freeUdpPort } from '../testing/free-ports.js';
import { run } from '../process/run.js';
import { Daemon } from '../process/daemon.js';
import { waitUntil } from '../testing/wait-until.js';

const DHCRELAY = '/usr/sbin/dhcrelay';
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const skip = process.getuid?.() !== 0
  ? 'needs root: creates network namespaces'
  : !existsSync(DHCRELAY) ? 'dhcrelay not found (apt-get install -y isc-dhcp-relay)'
    : BUSYBOX === undefined ? 'busybox not found (apt-get install -y busybox-static)' : false;

const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });

it('a node listed by MAC and switch port, seen by a trusted relay on another port: served by its MAC, one node-on-other-port alert in the API', { skip, timeout: 90_000 }, async () => {
  const tag = randomBytes(3).toString('hex');
  const x = 1 + (parseInt(tag, 16) % 200);
  const [lan, rack] = [`10.219.${x}`, `10.220.${x}`];
  const router = `dlpa-${tag}`;
  const host = `dlpb-${tag}`;
  const hostIf = `dlpu${tag}`;
  const mac = `52:54:00:${tag.slice(0, 2)}:${tag.slice(2, 4)}:${tag.slice(4, 6)}`;
  const dir = mkdtempSync(join(tmpdir(), 'diskless-port-alert-'));
  let services: RunningServices | undefined;
  let relay: Daemon | undefined;
  try {
    ip('netns', 'add', router);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'up', 'netns', router);
    ip('addr', 'add', `${lan}.1/24`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('-n', router, 'addr', 'add', `${lan}.2/24`, 'dev', 'up');
    ip('-n', router, 'link', 'set', 'dev', 'up', 'up');
    ip('-n', router, 'link', 'set', 'lo', 'up');
    ip('netns', 'add', host);
    ip('-n', router, 'link', 'add', 'rack9', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host);
    ip('-n', router, 'addr', 'add', `${rack}.1/24`, 'dev', 'rack9');
    ip('-n', router, 'link', 'set', 'rack9', 'up');
    ip('-n', host, 'link', 'set', 'eth0', 'address', mac);
    ip('-n', host, 'link', 'set', 'eth0', 'up');
    ip('route', 'add', `${rack}.0/24`, 'via', `${lan}.2`, 'dev', hostIf);

    const apiPort = await freeTcpPort();
    const file = join(dir, 'diskless.yaml');
    writeFileSync(file, `server:
  address: ${lan}.1
  interface: ${hostIf}
  http_port: ${await freeTcpPort()}
  https_port: ${await freeTcpPort()}
  tftp_port: ${await freeUdpPort()}
  state_dir: ${join(dir, 'state')}
  answer_router_solicitations: false
dhcp:
  mode: full
  unknown_clients: deny
  lease_time: 600
  subnets:
    - network: ${lan}.0/24
      interface: ${hostIf}
      pool: ${lan}.100-${lan}.110
    - network: ${rack}.0/24
      pool: ${rack}.100-${rack}.110
      routers: [${rack}.1]
profiles:
  default:
    kernel: /nonexistent/vmlinuz
nodes:
  - mac: "${mac}"
    hostname: r1n7
    switch_port: { circuit_id: rack1 }
api:
  port: ${apiPort}
`);
    services = await startServices(loadConfig(file), { watchConfig: false });
    relay = await Daemon.start(['ip', 'netns', 'exec', router, DHCRELAY, '-d', '-4', '-a', '-D', '-id', 'rack9', '-iu', 'up', `${lan}.1`]);
    await waitUntil('dhcrelay to listen', () => /Sending on +Socket\/fallback/.test(relay!.output()), 15_000);
    const script = join(dir, 'print-env.sh');
    writeFileSync(script, '#!/bin/sh\necho "event=$1"\nenv | grep -E "^(ip|hostname)=" | sort\n');
    chmodSync(script, 0o755);
    const udhcpc = () => run(['ip', 'netns', 'exec', host, BUSYBOX!, 'udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', script], { timeoutMs: 30_000, check: false });
    for (const round of [1, 2]) {
      const r = await udhcpc();
      assert.equal(r.code, 0, `round ${round}: udhcpc failed:\n${r.stdout}\n${r.stderr}\ndhcrelay:\n${relay.output()}`);
      const bound = r.stdout.slice(r.stdout.indexOf('event=bound'));
      assert.match(bound, /^hostname=r1n7$/m, 'served as the node, by its MAC');
      assert.match(bound, new RegExp(`^ip=${rack.replaceAll('.', '\\.')}\\.10\\d$`, 'm'), 'from the rack\'s pool');
    }
    const events = await call(apiPort, 'GET', `/api/v1/nodes/${mac}/events?limit=500`);
    assert.equal(events.status, 200);
    const alerts = events.json.events.filter((e: any) => e.kind === 'alert');
    assert.deepEqual(alerts.map((e: any) => [e.name, e.fields.listedCircuitId, e.fields.circuitId, e.fields.giaddr]), [['node-on-other-port', 'rack1', 'rack9', `${rack}.1`]], 'one alert for two DHCP exchanges on the same wrong port');
    assert.match(alerts[0].detail, /^r1n7 \(.+\) is listed on circuit rack1 but its relay .+ reports it on circuit rack9/);
  } finally {
    await relay?.stop();
    await services?.stop();
    for (const ns of [router, host]) { try { ip('netns', 'del', ns); } catch { /* not made */ } }
    try { ip('link', 'del', hostIf); } catch { /* gone with the router */ }
    rmSync(dir, { recursive: true, force: true });
  }
});
