// The lease keeper (initramfs/lib/diskless/lease-keeper.sh), which a node whose image runs no
// DHCP client of its own leaves running after switch_root: busybox udhcpc with the keeper as its
// script, against this server in-process on the other end of a veth pair. It must renew the
// lease before it expires, and never take the address away, not even when the server is gone
// for longer than the lease.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DhcpEvent, DhcpServer } from '../protocols/dhcp/server.js';
import { bootDhcpServer } from './responder.js';
import { LeaseStore } from './lease-store.js';
import { createVethLab } from '../protocols/dhcp/testdata/veth-namespace.js';
import { waitUntil } from '../testing/wait-until.js';
import { singleSubnet, type DhcpSettings } from './settings.js';

const KEEPER = fileURLToPath(new URL('../../../initramfs/lib/diskless/lease-keeper.sh', import.meta.url));
const BUSYBOX = '/bin/busybox';
const skip = process.getuid?.() !== 0 ? 'needs root: creates a network namespace and a veth pair' : false;
/** busybox udhcpc takes no lease shorter than 30 s (it renews at half of it, T1). */
const LEASE_SEC = 30;

it('the lease keeper renews at T1, keeps the address through a server outage longer than the lease, and is renewed again after it', { skip, timeout: 180_000 }, async () => {
  const lab = createVethLab();
  const dir = mkdtempSync(join(tmpdir(), 'diskless-keeper-'));
  let server: DhcpServer | undefined;
  let keeper: ReturnType<typeof spawn> | undefined;
  try {
    const net = `10.213.${lab.subnet}`;
    const events: Array<DhcpEvent & { t: number }> = [];
    const settings: DhcpSettings = {
      mode: 'full',
      serverAddress: `${net}.1`,
      network: `${net}.0`,
      name: `${net}.0/24`,
      interfaceName: lab.hostIf,
      pool: { start: `${net}.100`, end: `${net}.110` },
      subnetMask: '255.255.255.0',
      routers: [`${net}.1`],
      dnsServers: [],
      leaseTimeSec: LEASE_SEC,
      unknownClients: 'allow',
      bootFiles: { bios: 'undionly.kpxe', efi64: 'ipxe.efi', pxelinux: 'pxelinux.0', shimX64: 'shimx64.efi', shimArm64: 'shimaa64.efi' },
      ipxeScriptUrl: (mac) => `http://${net}.1/boot/${mac}.ipxe`,
      httpBootUrl: (arch) => `http://${net}.1/${arch}.efi`,
      ports: { server: 67, client: 68, proxy: 4011 },
    };
    const start = () => bootDhcpServer({
      settings: singleSubnet(settings),
      lookupNode: () => undefined,
      leaseStore: new LeaseStore({ path: join(dir, 'leases.json') }),
      onEvent: (e) => events.push({ ...e, t: Date.now() }),
    });
    server = start();
    await server.start();

    // The keeper as the handoff stage leaves it, with the host's busybox in place of the copy
    // the initrd carries to /run/diskless/bin.
    const script = join(dir, 'lease-keeper.sh');
    writeFileSync(script, readFileSync(KEEPER, 'utf8').replace(/^#!.*\n/, `#!${BUSYBOX} sh\n`), { mode: 0o755 });
    const wanted = `${net}.105`;
    // The address the initramfs configured: the keeper must keep it and ask for it.
    execFileSync('ip', ['-n', lab.namespace, 'addr', 'add', `${wanted}/24`, 'dev', lab.clientIf]);
    keeper = spawn('ip', ['netns', 'exec', lab.namespace, script, 'start', lab.clientIf, wanted], {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DL_KEEPER_BUSYBOX: BUSYBOX, DL_KEEPER_STATE_DIR: dir },
      stdio: 'ignore',
    });
    const mine = () => events.filter((e) => e.mac === lab.clientMac);
    const addresses = () => execFileSync('ip', ['-n', lab.namespace, '-4', '-o', 'addr', 'show', 'dev', lab.clientIf], { encoding: 'utf8' });
    const state = () => { try { return readFileSync(join(dir, 'lease-keeper.state'), 'utf8'); } catch { return ''; } };
    const renewals = () => mine().filter((e) => e.type === 'ack' && /\(renewing\)/.test(e.reason ?? ''));

    // It asks for the address it has and gets it.
    await waitUntil('the first ack', () => mine().some((e) => e.type === 'ack'), 30_000);
    const first = mine().find((e) => e.type === 'ack')!;
    assert.equal(first.ip, wanted, 'the address the node already uses');

    // Renewed before it expires, at T1 (half the lease), unicast: RENEWING.
    await waitUntil('a renewal', () => renewals().length >= 1, 2 * LEASE_SEC * 1000);
    const gap = renewals()[0]!.t - first.t;
    assert.ok(gap < LEASE_SEC * 1000, `renewed ${gap} ms after the ack: before the ${LEASE_SEC} s lease ran out`);
    await waitUntil('the keeper to record the renewal', () => /^EVENT='renew'$/m.test(state()), 10_000);
    assert.match(state(), /^RENEWALS='1'$/m);
    assert.match(state(), new RegExp(`^IP='${wanted.replace(/\./g, '\\.')}'$`, 'm'));

    // The server goes away for longer than the lease: udhcpc rebinds at T2, the lease runs
    // out, it starts over (udhcpc's "deconfig"); the address stays on the interface throughout.
    await server.stop();
    server = undefined;
    let removed = '';
    const watch = setInterval(() => { if (!addresses().includes(`inet ${wanted}/24`)) removed ||= addresses() || '(none)'; }, 200);
    try {
      await waitUntil('the lease to run out', () => /^EVENT='deconfig'$/m.test(state()), 3 * LEASE_SEC * 1000);
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      clearInterval(watch);
    }
    assert.equal(removed, '', 'the address was never removed');

    // Back again: the keeper gets its lease again, the same address.
    const before = mine().length;
    server = start();
    await server.start();
    await waitUntil('a lease after the outage', () => mine().slice(before).some((e) => e.type === 'ack'), 60_000);
    assert.equal(mine().slice(before).find((e) => e.type === 'ack')!.ip, wanted);
    assert.match(addresses(), new RegExp(`inet ${wanted.replace(/\./g, '\\.')}/24`));
    assert.equal(addresses().trim().split('\n').length, 1, 'one address, never a second');
  } finally {
    if (keeper && keeper.exitCode === null) {
      const exited = new Promise((r) => keeper!.once('exit', r));
      keeper.kill('SIGKILL');
      await exited;
    }
    await server?.stop();
    lab.destroy();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  }
});

it('in an image whose network manager renews the lease, the keeper bridges the system\'s start: its own exchange at once, the lease\'s lifetime on the address for NetworkManager, and it ends without a RELEASE once the manager runs', { skip, timeout: 120_000 }, async () => {
  const lab = createVethLab();
  const dir = mkdtempSync(join(tmpdir(), 'diskless-keeper-'));
  let server: DhcpServer | undefined;
  let keeper: ReturnType<typeof spawn> | undefined;
  try {
    const net = `10.213.${lab.subnet}`;
    const events: Array<DhcpEvent & { t: number }> = [];
    const settings: DhcpSettings = {
      mode: 'full', serverAddress: `${net}.1`, network: `${net}.0`, name: `${net}.0/24`, interfaceName: lab.hostIf,
      pool: { start: `${net}.100`, end: `${net}.110` }, subnetMask: '255.255.255.0', routers: [`${net}.1`], dnsServers: [],
      leaseTimeSec: LEASE_SEC, unknownClients: 'allow',
      bootFiles: { bios: 'undionly.kpxe', efi64: 'ipxe.efi', pxelinux: 'pxelinux.0', shimX64: 'shimx64.efi', shimArm64: 'shimaa64.efi' },
      ipxeScriptUrl: (mac) => `http://${net}.1/boot/${mac}.ipxe`, httpBootUrl: (arch) => `http://${net}.1/${arch}.efi`,
      ports: { server: 67, client: 68, proxy: 4011 },
    };
    server = bootDhcpServer({
      settings: singleSubnet(settings), lookupNode: () => undefined,
      leaseStore: new LeaseStore({ path: join(dir, 'leases.json') }), onEvent: (e) => events.push({ ...e, t: Date.now() }),
    });
    await server.start();
    const script = join(dir, 'lease-keeper.sh');
    writeFileSync(script, readFileSync(KEEPER, 'utf8').replace(/^#!.*\n/, `#!${BUSYBOX} sh\n`), { mode: 0o755 });
    const wanted = `${net}.106`;
    execFileSync('ip', ['-n', lab.namespace, 'addr', 'add', `${wanted}/24`, 'dev', lab.clientIf]);
    // The processes the keeper looks through for the manager: none running yet.
    const proc = join(dir, 'proc');
    mkdirSync(join(proc, '1'), { recursive: true });
    writeFileSync(join(proc, '1/comm'), 'systemd\n');
    keeper = spawn('ip', ['netns', 'exec', lab.namespace, script, 'start', lab.clientIf, wanted, 'NetworkManager'], {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DL_KEEPER_BUSYBOX: BUSYBOX, DL_KEEPER_STATE_DIR: dir, DL_KEEPER_PROC: proc },
      stdio: 'ignore',
    });
    const exited = new Promise((r) => keeper!.once('exit', r));
    const mine = () => events.filter((e) => e.mac === lab.clientMac);
    const addresses = () => execFileSync('ip', ['-n', lab.namespace, '-4', '-o', 'addr', 'show', 'dev', lab.clientIf], { encoding: 'utf8' });
    const state = () => { try { return readFileSync(join(dir, 'lease-keeper.state'), 'utf8'); } catch { return ''; } };

    await waitUntil('the keeper\'s own exchange', () => mine().some((e) => e.type === 'ack'), 30_000);
    await waitUntil('the keeper to record it', () => /^EVENT='bound'$/m.test(state()), 10_000);
    const lft = Number(/dynamic.* valid_lft (\d+)sec/.exec(addresses())?.[1]);
    assert.ok(lft > 0 && lft <= LEASE_SEC, `NetworkManager is handed the address with the lease's lifetime: ${addresses()}`);
    assert.equal(keeper.exitCode, null, 'still running: no manager yet');

    // NetworkManager starts: the keeper ends within a few seconds, before its T1, saying so.
    mkdirSync(join(proc, '4242'));
    writeFileSync(join(proc, '4242/comm'), 'NetworkManager\n');
    await Promise.race([exited, new Promise((_, no) => setTimeout(() => no(new Error('the keeper did not end')), 10_000))]);
    await waitUntil('the handover in the state', () => /^HANDED='NetworkManager'$/m.test(state()), 5_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(mine().filter((e) => ['release', 'decline', 'nak'].includes(e.type)).map((e) => e.type), [], 'no RELEASE');
    assert.equal(mine().filter((e) => e.type === 'ack' && /\(renewing\)/.test(e.reason ?? '')).length, 0, 'the keeper renewed nothing: the renewals are the manager\'s');
    assert.match(addresses(), new RegExp(`inet ${wanted.replace(/\./g, '\\.')}/24`), 'the address stays');
  } finally {
    if (keeper && keeper.exitCode === null && keeper.signalCode === null) {
      const exited = new Promise((r) => keeper!.once('exit', r));
      keeper.kill('SIGKILL');
      await exited;
    }
    await server?.stop();
    lab.destroy();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  }
});
