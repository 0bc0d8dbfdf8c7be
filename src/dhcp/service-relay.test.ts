// Through a relay nobody here wrote: ISC dhcrelay in a router namespace between the server's
// link and two rack links, busybox udhcpc on each rack with the same MAC. The rack with the
// node's switch port (dhcrelay -a: circuit id = the interface name) gets the node's address and
// name; the other rack gets a pool address of its own subnet and no name. (dhcrelay 4.4 hands
// replies on by giaddr even without the option 82 echo: the golden bytes in subnets.test.ts and
// switch-port.test.ts hold the echo.)
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

it('through a real dhcrelay: the node on switch port rack1 gets its address and name; its MAC on rack9 does not', { skip, timeout: 90_000 }, async () => {
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
    server = bootDhcpServer({
      settings: dhcpSettingsFromConfig(cfg, { server: 67, client: 68, proxy: 4011 }),
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

    relay = await Daemon.start(['ip', 'netns', 'exec', router, DHCRELAY, '-d', '-4', '-a', '-id', 'rack1', '-id', 'rack9', '-iu', 'up', `${lan}.1`]);
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
  } finally {
    await relay?.stop();
    await server?.stop();
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
