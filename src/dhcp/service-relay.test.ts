// Through a relay nobody here wrote: ISC dhcrelay in a router namespace between the server's
// link and two rack links, busybox udhcpc on each rack with the same MAC. The rack with the
// node's switch port (dhcrelay -a: circuit id = the interface name) gets the node's address and
// name; the other rack gets a pool address of its own subnet and no name. dhcrelay runs with
// -D: it drops every reply whose option 82 does not name one of its own circuits, so the replies
// reaching the racks show the server echoed option 82 (RFC 3046 §2.2); the relay then sends each
// reply out of the interface that circuit id names and strips the option. Then the lease keeper
// (initramfs/lib/diskless/lease-keeper.sh, what a booted node without a DHCP client of its own
// runs) takes over on rack1 as the handoff leaves it: its renewal at T1 is unicast to the
// server identifier, off the rack, so it crosses the router without the relay, and carries no
// option 82; the server places it by its address and knows the node by the port it recorded.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { DhcpEvent, DhcpServer } from '../protocols/dhcp/server.js';
import { bootDhcpServer } from './responder.js';
import { LeaseStore } from './lease-store.js';
import { dhcpNodeLookup, dhcpSettingsFromConfig } from './settings-from-config.js';
import { parseConfig } from '../config/load.js';
import { nodeByAddress, nodeKey } from '../boot/boot-target.js';
import { run } from '../process/run.js';
import { Daemon } from '../process/daemon.js';
import type { SwitchPort } from '../net/switch-port.js';

const KEEPER = fileURLToPath(new URL('../../../initramfs/lib/diskless/lease-keeper.sh', import.meta.url));
/** rack1's lease in the keeper's part: busybox udhcpc takes none shorter than 30 s and renews at half (T1). */
const KEEPER_LEASE_SEC = 30;

const DHCRELAY = '/usr/sbin/dhcrelay';
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const skip = process.getuid?.() !== 0
  ? 'needs root: creates network namespaces'
  : !existsSync(DHCRELAY) ? 'dhcrelay not found (apt-get install -y isc-dhcp-relay)'
    : BUSYBOX === undefined ? 'busybox not found (apt-get install -y busybox-static)' : false;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function until(what: string, ok: () => boolean, timeoutMs: number, detail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${detail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('through a real dhcrelay: the node on switch port rack1 gets its address and name; its MAC on rack9 does not; the lease keeper on rack1 renews through the router', { skip, timeout: 120_000 }, async () => {
  const tag = randomBytes(3).toString('hex');
  const x = 1 + (parseInt(tag, 16) % 200);
  const [lan, rack1, rack9] = [`10.216.${x}`, `10.217.${x}`, `10.218.${x}`];
  const router = `dlr-${tag}`;
  const racks = [`dlra-${tag}`, `dlrb-${tag}`];
  const hostIf = `dlup${tag}`;
  const mac = `52:54:00:${tag.slice(0, 2)}:${tag.slice(2, 4)}:${tag.slice(4, 6)}`;
  const dir = mkdtempSync(join(tmpdir(), 'diskless-relay-'));
  let server: DhcpServer | undefined;
  let relay: Daemon | undefined;
  let keeper: ReturnType<typeof spawn> | undefined;
  const cleanup = () => {
    for (const ns of [router, ...racks]) { try { ip('netns', 'del', ns); } catch { /* not made */ } }
    try { ip('link', 'del', hostIf); } catch { /* gone with the router */ }
  };
  try {
    ip('netns', 'add', router);
    // The server's link: hostIf here, "up" in the router.
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'up', 'netns', router);
    ip('addr', 'add', `${lan}.1/24`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('-n', router, 'addr', 'add', `${lan}.2/24`, 'dev', 'up');
    ip('-n', router, 'link', 'set', 'dev', 'up', 'up');
    ip('-n', router, 'link', 'set', 'lo', 'up');
    // A router: what the relay does not carry (unicast renewals) it forwards.
    execFileSync('ip', ['netns', 'exec', router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // The racks: the router's rack1 and rack9, each to a namespace with one machine (same MAC).
    for (const [i, [port, net]] of ([['rack1', rack1], ['rack9', rack9]] as const).entries()) {
      const ns = racks[i]!;
      ip('netns', 'add', ns);
      ip('-n', router, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('-n', router, 'addr', 'add', `${net}.1/24`, 'dev', port);
      ip('-n', router, 'link', 'set', port, 'up');
      ip('-n', ns, 'link', 'set', 'eth0', 'address', mac);
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      // Replies go to giaddr, the router's address on the rack: reached through the router.
      ip('route', 'add', `${net}.0/24`, 'via', `${lan}.2`, 'dev', hostIf);
    }

    const cfg = parseConfig(`server:
  address: ${lan}.1
  interface: ${hostIf}
dhcp:
  mode: full
  unknown_clients: allow
  lease_time: 600
  subnets:
    - network: ${lan}.0/24
      interface: ${hostIf}
      pool: ${lan}.100-${lan}.110
    - network: ${rack1}.0/24
      pool: ${rack1}.100-${rack1}.110
      routers: [${rack1}.1]
      domain: rack1.test
    - network: ${rack9}.0/24
      pool: ${rack9}.100-${rack9}.110
      routers: [${rack9}.1]
profiles:
  default: { kernel: /k }
default_profile: default
nodes:
  - hostname: rack1-node
    switch_port: { circuit_id: rack1 }
    address: ${rack1}.42
`, join(dir, 'diskless.yaml'));
    const events: DhcpEvent[] = [];
    // What services.ts keeps from the events: the port a trusted relay last reported a machine on.
    const ports = new Map<string, SwitchPort>();
    const settings = dhcpSettingsFromConfig(cfg, { server: 67, client: 68, proxy: 4011 });
    // Shorter than the config allows, so the keeper renews within the test.
    settings.subnets = settings.subnets.map((sub) => (sub.name === `${rack1}.0/24` ? { ...sub, leaseTimeSec: KEEPER_LEASE_SEC } : sub));
    server = bootDhcpServer({
      settings,
      lookupNode: dhcpNodeLookup(() => cfg, (m) => ports.get(m)),
      reservedBy: (a) => {
        const n = nodeByAddress(cfg, a);
        return n && nodeKey(n);
      },
      leaseStore: new LeaseStore({ path: join(dir, 'leases.json') }),
      onEvent: (e) => {
        events.push(e);
        if (e.agent?.trusted && e.agent.circuitId !== undefined) ports.set(e.mac, { circuitId: e.agent.circuitId });
      },
    });
    await server.start();

    relay = await Daemon.start(['ip', 'netns', 'exec', router, DHCRELAY, '-d', '-4', '-a', '-D', '-id', 'rack1', '-id', 'rack9', '-iu', 'up', `${lan}.1`]);
    // dhcrelay names each interface it listens on once it is ready to relay.
    await until('dhcrelay to listen', () => /Sending on +Socket\/fallback/.test(relay!.output()), 15_000, () => relay!.output());

    const script = join(dir, 'print-env.sh');
    writeFileSync(script, '#!/bin/sh\necho "event=$1"\nenv | grep -E "^(ip|router|hostname|domain|serverid)=" | sort\n');
    chmodSync(script, 0o755);
    const udhcpc = (ns: string) => run(['ip', 'netns', 'exec', ns, BUSYBOX!, 'udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', script], { timeoutMs: 30_000, check: false });
    // One after the other: the same MAC at once on both racks would be one client to any server.
    const onRack1 = await udhcpc(racks[0]!);
    const onRack9 = await udhcpc(racks[1]!);
    const bound = (r: typeof onRack1) => {
      assert.equal(r.code, 0, `udhcpc failed:\n${r.stdout}\n${r.stderr}\ndhcrelay:\n${relay!.output()}`);
      return r.stdout.slice(r.stdout.indexOf('event=bound'));
    };
    const one = bound(onRack1);
    assert.match(one, new RegExp(`^ip=${rack1}\\.42$`, 'm'), one);
    assert.match(one, /^hostname=rack1-node$/m);
    assert.match(one, /^domain=rack1\.test$/m);
    assert.match(one, new RegExp(`^router=${rack1}\\.1$`, 'm'));
    assert.match(one, new RegExp(`^serverid=${lan}\\.1$`, 'm'));
    const nine = bound(onRack9);
    assert.match(nine, new RegExp(`^ip=${rack9}\\.100$`, 'm'), nine);
    assert.doesNotMatch(nine, /^hostname=/m);

    // Each machine was told who it is at its first DISCOVER, from that packet's own option 82.
    assert.deepEqual(events.filter((e) => e.type === 'offer' || e.type === 'nak').map((e) => `${e.type} ${e.ip}`), [`offer ${rack1}.42`, `offer ${rack9}.100`]);
    const acks = events.filter((e) => e.type === 'ack');
    assert.deepEqual(acks.map((e) => [e.giaddr, e.subnet, e.agent, e.node ?? null]), [
      [`${rack1}.1`, `${rack1}.0/24`, { circuitId: 'rack1', trusted: true }, 'host:rack1-node'],
      [`${rack9}.1`, `${rack9}.0/24`, { circuitId: 'rack9', trusted: true }, null],
    ]);

    // The keeper on rack1, as the handoff leaves the node: its address, the router as gateway.
    const node = racks[0]!;
    ip('-n', node, 'addr', 'add', `${rack1}.42/24`, 'dev', 'eth0');
    ip('-n', node, 'route', 'add', 'default', 'via', `${rack1}.1`);
    const keeperScript = join(dir, 'lease-keeper.sh');
    writeFileSync(keeperScript, readFileSync(KEEPER, 'utf8').replace(/^#!.*\n/, `#!${BUSYBOX!} sh\n`), { mode: 0o755 });
    const from = events.length;
    keeper = spawn('ip', ['netns', 'exec', node, keeperScript, 'start', 'eth0', `${rack1}.42`], {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DL_KEEPER_BUSYBOX: BUSYBOX!, DL_KEEPER_STATE_DIR: dir },
      stdio: 'ignore',
    });
    const state = () => { try { return readFileSync(join(dir, 'lease-keeper.state'), 'utf8'); } catch { return ''; } };
    const keeperAcks = () => events.slice(from).filter((e) => e.type === 'ack' && e.mac === mac);
    const renewals = () => keeperAcks().filter((e) => /\(renewing\)/.test(e.reason ?? ''));
    // Its first lease comes through the relay (its own DISCOVER, from rack1).
    await until('the keeper\'s lease', () => keeperAcks().length >= 1 && /^EVENT='bound'$/m.test(state()), 30_000, () => `${JSON.stringify(events.slice(from))}\n${relay!.output()}`);
    assert.deepEqual([keeperAcks()[0]!.giaddr, keeperAcks()[0]!.ip, keeperAcks()[0]!.node], [`${rack1}.1`, `${rack1}.42`, 'host:rack1-node']);
    // ISC dhcrelay also relays a unicast REQUEST that passes through the router (it reads every
    // frame to port 67 on its rack interface), so the server would hear the renewal twice. With
    // the relay gone, the renewal at T1 has only the router.
    await relay.stop();
    relay = undefined;
    await until('the keeper\'s renewal', () => renewals().length >= 1 && /^RENEWALS='1'$/m.test(state()), 2 * KEEPER_LEASE_SEC * 1000,
      () => `${JSON.stringify(events.slice(from))}\nkeeper state:\n${state()}`);
    // It came from its address, straight to the server identifier, and the server still took it
    // for the node (by the port it recorded for the MAC).
    const renewal = renewals()[0]!;
    assert.deepEqual([renewal.giaddr ?? '0.0.0.0', renewal.peerPort, renewal.ip, renewal.subnet, renewal.agent, renewal.node], ['0.0.0.0', 68, `${rack1}.42`, `${rack1}.0/24`, undefined, 'host:rack1-node']);
    assert.match(state(), new RegExp(`^SERVER='${lan.replace(/\./g, '\\.')}\\.1'$`, 'm'), 'the server identifier it renews with, off its own subnet');
  } finally {
    if (keeper && keeper.exitCode === null) {
      const exited = new Promise((r) => keeper!.once('exit', r));
      keeper.kill('SIGKILL');
      await exited;
    }
    await relay?.stop();
    await server?.stop();
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
