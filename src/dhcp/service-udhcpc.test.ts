import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DhcpEvent, DhcpServer } from '../protocols/dhcp/server.js';
import { bootDhcpServer } from './responder.js';
import { LeaseStore } from './lease-store.js';
import { singleSubnet, type DhcpNode } from './settings.js';
import { createVethLab } from '../protocols/dhcp/testdata/veth-namespace.js';
import { run as runCommand } from '../process/run.js';

function findBusybox(): string | undefined {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) if (existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCommand([cmd, ...args], { timeoutMs, check: false });
}

const notRoot = process.getuid?.() !== 0;
const busybox = findBusybox();
const skip = notRoot
  ? 'needs root: creates a network namespace and a veth pair'
  : busybox === undefined ? 'busybox not found (apt-get install -y busybox-static)' : false;

// Interop with a client nobody here wrote: busybox udhcpc in its own namespace, the server
// in-process on the other end of a veth pair, bound to it with SO_BINDTOIFINDEX on port 67.
it('busybox udhcpc gets its reserved address, hostname, router and DNS', { skip, timeout: 60_000 }, async () => {
  const lab = createVethLab();
  const dir = mkdtempSync(join(tmpdir(), 'diskless-udhcpc-'));
  let server: DhcpServer | undefined;
  try {
    const net = `10.213.${lab.subnet}`;
    const node: DhcpNode = { mac: lab.clientMac, hostname: 'interop-node', address: `${net}.42`, loader: 'ipxe', secureBoot: false };
    const events: DhcpEvent[] = [];
    server = bootDhcpServer({
      settings: singleSubnet({
        mode: 'full',
        serverAddress: `${net}.1`,
        network: `${net}.0`,
        interfaceName: lab.hostIf,
        pool: { start: `${net}.100`, end: `${net}.110` },
        subnetMask: '255.255.255.0',
        routers: [`${net}.1`],
        dnsServers: [`${net}.53`, `${net}.54`],
        domainName: 'lab.test',
        leaseTimeSec: 600,
        unknownClients: 'deny',
        bootFiles: { bios: 'undionly.kpxe', efi64: 'ipxe.efi', pxelinux: 'pxelinux.0', shimX64: 'shimx64.efi', shimArm64: 'shimaa64.efi' },
        ipxeScriptUrl: (mac) => `http://${net}.1/boot/${mac}.ipxe`,
        httpBootUrl: (arch) => `http://${net}.1/${arch}.efi`,
        ports: { server: 67, client: 68, proxy: 4011 },
      }),
      lookupNode: (mac) => (mac === node.mac ? node : undefined),
      leaseStore: new LeaseStore({ path: join(dir, 'leases.json') }),
      onEvent: (e) => events.push(e),
    });
    await server.start();

    const script = join(dir, 'print-env.sh');
    writeFileSync(script, '#!/bin/sh\necho "event=$1"\nenv | grep -E "^(ip|subnet|router|dns|hostname|domain|serverid|lease)=" | sort\n');
    chmodSync(script, 0o755);
    const result = await run('ip', [
      'netns', 'exec', lab.namespace, busybox!, 'udhcpc',
      '-i', lab.clientIf, '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', script,
    ], 30_000);
    const out = result.stdout;
    assert.equal(result.code, 0, `udhcpc failed:\n${out}\n${result.stderr}`);
    const bound = out.slice(out.indexOf('event=bound'));
    assert.match(bound, new RegExp(`^ip=${net}\\.42$`, 'm'), out);
    assert.match(bound, /^hostname=interop-node$/m);
    assert.match(bound, new RegExp(`^router=${net}\\.1$`, 'm'));
    assert.match(bound, new RegExp(`^dns=${net}\\.53 ${net}\\.54$`, 'm'));
    assert.match(bound, /^domain=lab\.test$/m);
    assert.match(bound, new RegExp(`^serverid=${net}\\.1$`, 'm'));
    assert.match(bound, /^subnet=255\.255\.255\.0$/m);
    assert.match(bound, /^lease=600$/m);
    assert.deepEqual(events.map((e) => e.type), ['discover', 'offer', 'request', 'ack']);
  } finally {
    await server?.stop();
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

// Two links, one socket each: the same broadcast DISCOVER reaches the server on both, and each
// is answered from the subnet on the link it arrived on (SO_BINDTOIFINDEX tells them apart).
it('two interfaces, two subnets: each udhcpc gets an address from its own link\'s pool', { skip, timeout: 60_000 }, async () => {
  const labs = [createVethLab(), createVethLab()];
  const dir = mkdtempSync(join(tmpdir(), 'diskless-udhcpc-'));
  let server: DhcpServer | undefined;
  try {
    const subnet = (lab: (typeof labs)[number]) => {
      const net = `10.213.${lab.subnet}`;
      return {
        mode: 'full' as const, serverAddress: `${net}.1`, network: `${net}.0`, name: `${net}.0/24`, interfaceName: lab.hostIf, attached: true,
        pool: { start: `${net}.100`, end: `${net}.110` }, subnetMask: '255.255.255.0', routers: [`${net}.1`], dnsServers: [], leaseTimeSec: 600,
        unknownClients: 'allow' as const,
        bootFiles: { bios: 'undionly.kpxe', efi64: 'ipxe.efi', pxelinux: 'pxelinux.0', shimX64: 'shimx64.efi', shimArm64: 'shimaa64.efi' },
        ipxeScriptUrl: (mac: string) => `http://${net}.1/boot/${mac}.ipxe`,
        httpBootUrl: () => `http://${net}.1/ipxe.efi`,
        ports: { server: 67, client: 68, proxy: 4011 },
      };
    };
    const events: DhcpEvent[] = [];
    server = bootDhcpServer({
      settings: { subnets: labs.map(subnet), interfaces: labs.map((l) => l.hostIf), ports: { server: 67, client: 68, proxy: 4011 } },
      lookupNode: () => undefined,
      leaseStore: new LeaseStore({ path: join(dir, 'leases.json') }),
      onEvent: (e) => events.push(e),
    });
    await server.start();
    const script = join(dir, 'print-env.sh');
    writeFileSync(script, '#!/bin/sh\necho "event=$1"\nenv | grep -E "^(ip|router|serverid)=" | sort\n');
    chmodSync(script, 0o755);
    const results = await Promise.all(labs.map((lab) => run('ip', [
      'netns', 'exec', lab.namespace, busybox!, 'udhcpc', '-i', lab.clientIf, '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', script,
    ], 30_000)));
    results.forEach((result, i) => {
      const net = `10.213.${labs[i]!.subnet}`;
      assert.equal(result.code, 0, `udhcpc ${i} failed:\n${result.stdout}\n${result.stderr}`);
      const bound = result.stdout.slice(result.stdout.indexOf('event=bound'));
      assert.match(bound, new RegExp(`^ip=${net}\\.100$`, 'm'), result.stdout);
      assert.match(bound, new RegExp(`^router=${net}\\.1$`, 'm'));
      assert.match(bound, new RegExp(`^serverid=${net}\\.1$`, 'm'));
      const acks = events.filter((e) => e.type === 'ack' && e.mac === labs[i]!.clientMac);
      assert.deepEqual(acks.map((e) => [e.interface, e.subnet]), [[labs[i]!.hostIf, `${net}.0/24`]]);
    });
  } finally {
    await server?.stop();
    for (const lab of labs) lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
