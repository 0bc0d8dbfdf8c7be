// A real Debian system boots from `diskless serve` with nothing on its disk, in each root mode,
// to systemd's multi-user target and a login prompt; we then log in on its serial console and
// check what only a really booted diskless node can show.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DebianLab, LAB_IMAGE_HOSTNAME, RACK_DOMAIN, RACK_NETWORK, RACK_NODE_ADDRESS, RACK_PORT, RACK_ROUTER, RACK_SERVER_ADDRESS } from '../../src/lab/debian-lab.js';
import { ensureLabImageVariant } from '../../src/lab/lab-image.js';
import { LAB_ADMIN_URL, LAB_NODE_ADDRESS, LAB_POOL } from '../../src/lab/tiny-lab.js';
import { macToHyphens } from '../../src/net/mac.js';
import type { NodeDetail } from '../../src/api/wire.js';

const MINUTES = 60_000;
/** dhcp.lease_time of the allowed-unknown-machine test: renewals every 30 s. */
const LEASE_SEC = 60;
type Line = Record<string, unknown>;
const re = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const inPool = (ip: string) => { const n = Number(ip.split('.')[3]); return ip.startsWith('10.77.0.') && n >= Number(LAB_POOL.start.split('.')[3]) && n <= Number(LAB_POOL.end.split('.')[3]); };

function reports(log: Line[], mac: string): Line[] {
  return log.filter((l) => l['service'] === 'node' && l['mac'] === mac);
}

/** Stages /init reports in this order on every boot (fetched/verified only for live roots). */
function assertTimeline(log: Line[], mac: string, boots: number, live: boolean): void {
  const stages = reports(log, mac).filter((r) => r['status'] === 'ok').map((r) => String(r['stage']));
  const one = ['cmdline', 'modules', 'network', ...(live ? ['fetched', 'verified'] : []), 'root', 'overlay', 'identity', 'handoff', 'switch_root', 'booted'];
  assert.deepEqual(stages, Array.from({ length: boots }, () => one).flat(), 'stage reports, in order, for every boot');
}

/** Checks every diskless node must pass once logged in. */
async function assertBootedSystem(lab: DebianLab, rootType: RegExp, address = LAB_NODE_ADDRESS, domain = 'lab.test'): Promise<void> {
  assert.equal(await lab.systemState(), 'running', 'no failed units');
  assert.match(await lab.run('findmnt -n -o FSTYPE,SOURCE /run/initramfs/diskless/lower'), rootType);
  assert.equal((await lab.run('hostname')).trim(), 'lab1', 'hostname from DHCP');
  assert.match(await lab.run('getent hosts lab1'), new RegExp(`^127\\.0\\.1\\.1\\s+lab1\\.${re(domain)} lab1$`, 'm'), 'its own name resolves without DNS');
  assert.equal((await lab.run('uname -r')).trim(), lab.image.kernelVersion, 'the image\'s own kernel');
  assert.match(await lab.run('test -d /lib/modules/$(uname -r)/kernel && echo modules-present'), /modules-present/);
  // Network hand-off: the address the initramfs configured is still there, and its lease is
  // where Debian's scripts look for it.
  assert.match(await lab.run('ip -4 -o addr show'), new RegExp(`inet ${re(address)}/24`));
  assert.match(await lab.run('cat /run/net-*.conf'), new RegExp(`IPV4ADDR='${re(address)}'`));
}

/**
 * Waits until the server has `count` "booted" reports from the node: the login prompt can come
 * before the unit that sends it has run, so a test that stops the server right after logging in
 * must wait for the report, not race it.
 */
async function waitForBooted(lab: DebianLab, count: number, timeoutMs = 2 * MINUTES): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 500))) {
    const booted = reports(await lab.serverLog(), lab.mac).filter((r) => r['stage'] === 'booted').length;
    if (booted >= count) return;
    if (Date.now() > deadline) throw new Error(`the server heard ${booted} "booted" reports from ${lab.mac} within ${timeoutMs} ms, not ${count}`);
  }
}

/** A write lands in the RAM overlay, then a clean reboot; the write is gone afterwards. */
async function assertOverlayAndReboot(lab: DebianLab, cleanShutdown: boolean): Promise<void> {
  assert.match(await lab.run('echo probe > /root/diskless-probe && test -e /run/initramfs/diskless/rw/upper/root/diskless-probe && echo in-upper'), /in-upper/);
  const before = lab.vm.consoleText().length;
  await lab.vm.type('reboot\n');
  await lab.login(before, 6 * MINUTES);
  assert.match(await lab.run('test -e /root/diskless-probe || echo probe-gone'), /probe-gone/);
  const shutdown = lab.vm.consoleText().slice(before);
  assert.match(shutdown, /Reached target .*(reboot|Reboot)|reboot: Restarting system/);
  if (cleanShutdown) assert.deepEqual(shutdown.split('\n').filter((l) => l.includes('[FAILED]')), [], 'no failed step at shutdown');
  await waitForBooted(lab, 2);
}

// The first node sits on a rack behind a router running a real ISC dhcrelay (option 82, circuit
// rack1, -D: replies without the echo never reach the rack); the inventory knows it by that
// switch port only, and the rack's subnet names its own boot-server address. Everything it
// fetches crosses the router: the iPXE script, kernel, initrd, the image, its files over TLS,
// and its lease renewals, unicast to that address. A second node on the server's own link
// boots at the same time from that subnet's pool.
test('live root through a DHCP relay: a node known only by its switch port boots Debian from its rack\'s server address, image fetched into RAM, checksum verified, overlay, renewals through the router, reboot forgets writes; a node on the server\'s link boots beside it from its pool', { timeout: 20 * MINUTES }, async () => {
  const lab = await DebianLab.start({ mode: 'live', nic: 'virtio-net-pci', routed: true, nodes: 2, poolNodes: [1], leaseTimeSec: LEASE_SEC });
  try {
    const [rack, direct] = [lab.nodes[0]!, lab.nodes[1]!];
    await lab.login();
    await assertBootedSystem(lab, /^squashfs\s+\/dev\/loop\d+/, RACK_NODE_ADDRESS, RACK_DOMAIN);
    assert.match(await lab.run('findmnt -n -o FSTYPE /'), /^overlay/);
    // Its gateway is the relay's router, and everything it was told to fetch is at the rack's
    // server address, which it reaches through that router.
    assert.match(await lab.run('ip -4 route show default'), new RegExp(`^default via ${re(RACK_ROUTER)} `, 'm'));
    assert.match(await lab.run('ip -4 route get ' + RACK_SERVER_ADDRESS), new RegExp(`via ${re(RACK_ROUTER)} `));
    // (Read as short lines: a long line read off the serial console can come back garbled.)
    const urls = await lab.run("grep -oE '(live:http|server=http|secrets=https)://[0-9.:]+' /proc/cmdline");
    assert.deepEqual(urls.trim().split('\n').map((l) => l.trim()), [`live:http://${RACK_SERVER_ADDRESS}`, `server=http://${RACK_SERVER_ADDRESS}`, `secrets=https://${RACK_SERVER_ADDRESS}:443`],
      'the root, the reports and the secrets at the rack\'s server address');
    assert.deepEqual((await lab.run("grep -oE '//[0-9.]+' /proc/cmdline | sort -u")).trim(), `//${RACK_SERVER_ADDRESS}`, 'no other server');

    const log = await lab.serverLog();
    const fetched = reports(log, rack.mac).find((r) => r['stage'] === 'fetched');
    assert.match(String(fetched?.['detail']), new RegExp(`^bytes=${statSync(lab.image.squashfs).size} `), 'the whole image came over HTTP');
    // Every DHCP answer to it (firmware, iPXE, the initramfs) went back through the relay, from
    // the rack's pool of node names: its reservation, giaddr, its port and node key.
    const acks = log.filter((l) => l['service'] === 'dhcp' && l['type'] === 'ack' && l['mac'] === rack.mac);
    assert.ok(acks.length >= 3, `firmware, iPXE and the initramfs were each acknowledged: ${acks.length} acks`);
    for (const a of acks.filter((l) => l['giaddr'] !== undefined && l['giaddr'] !== '0.0.0.0')) {
      assert.deepEqual([a['ip'], a['giaddr'], a['subnet'], a['circuitId'], a['node']], [RACK_NODE_ADDRESS, RACK_ROUTER, `${RACK_NETWORK}.0/24`, RACK_PORT, 'host:lab1']);
    }
    assert.ok(acks.filter((l) => l['giaddr'] === RACK_ROUTER).length >= 3, 'the boot\'s acks were relayed');
    assert.ok(acks.some((a) => String(a['file']) === `http://${RACK_SERVER_ADDRESS}/boot/${macToHyphens(rack.mac)}.ipxe`), `iPXE was sent to the rack's server address: ${acks.map((a) => String(a['file'])).join(', ')}`);
    const forwarded = [...lab.relayLog().matchAll(/Forwarded BOOTREPLY for ([0-9a-f:]+) to/g)].map((m) => m[1]);
    assert.ok(forwarded.filter((m) => m === rack.mac).length >= 6, `dhcrelay forwarded an OFFER and an ACK per exchange:\n${lab.relayLog().slice(-3000)}`);
    // The node's HTTP requests came from its rack address (through the router): script, kernel, initrd, image.
    const fromRack = log.filter((l) => l['service'] === 'http' && String(l['peer']).replace(/^::ffff:/, '') === RACK_NODE_ADDRESS && Number(l['status']) === 200).map((l) => String(l['path']).replace(/^\//, ''));
    for (const path of [`boot/${macToHyphens(rack.mac)}.ipxe`, 'profiles/debian/kernel', 'profiles/debian/initrd-0', 'images/debian/root.sqfs']) {
      assert.ok(fromRack.includes(path), `${path} fetched from ${RACK_NODE_ADDRESS}: ${fromRack.join(', ')}`);
    }
    assert.ok(log.some((l) => l['service'] === 'http' && l['listener'] === 'https' && String(l['peer']).replace(/^::ffff:/, '') === RACK_NODE_ADDRESS && Number(l['status']) === 200),
      'its files came over TLS from its rack address');
    // The API shows the node booted, its whole timeline, and the port its relay reported.
    await waitForBooted(lab, 1);
    const api = JSON.parse((await lab.net.exec(lab.net.name, ['curl', '-sf', `${LAB_ADMIN_URL}/api/v1/nodes/${rack.mac}`])).stdout) as NodeDetail;
    assert.deepEqual([api.known, api.hostname, api.status, api.ip], [true, 'lab1', 'booted', RACK_NODE_ADDRESS]);
    assert.deepEqual(api.relayAgent, { circuitId: RACK_PORT, trusted: true });
    assert.deepEqual(api.timeline.filter((t) => t.status !== 'ok').map((t) => t.name), [], 'every timeline row ok');
    assert.ok(api.timeline.some((t) => t.name === 'booted'), `the timeline reaches booted: ${api.timeline.map((t) => t.name).join(', ')}`);

    // The machine on the server's link: unrelayed, that subnet's pool, at the same time.
    await direct.login();
    const poolIp = await lab.leasedAddress(direct.mac);
    assert.ok(poolIp !== undefined && inPool(poolIp), `${String(poolIp)} is from the server link's pool ${LAB_POOL.start}-${LAB_POOL.end}`);
    assert.match(await direct.run('ip -4 -o addr show'), new RegExp(`inet ${re(poolIp)}/24`));
    const directAcks = log.filter((l) => l['service'] === 'dhcp' && l['type'] === 'ack' && l['mac'] === direct.mac);
    assert.ok(directAcks.length > 0, 'the direct node was acknowledged');
    for (const a of directAcks) assert.deepEqual([a['giaddr'] ?? '0.0.0.0', a['subnet'], a['circuitId'], a['node']], ['0.0.0.0', '10.77.0.0/24', undefined, direct.mac]);
    assert.ok(!lab.relayLog().includes(direct.mac), 'the direct node never went through the relay');
    const firstDhcp = (mac: string) => Date.parse(String(log.find((l) => l['service'] === 'dhcp' && l['mac'] === mac)!['ts']));
    const kernelAt = (peer: string) => Date.parse(String(log.find((l) => l['service'] === 'http' && String(l['path']).replace(/^\//, '') === 'profiles/debian/kernel' && String(l['peer']).endsWith(peer))!['ts']));
    assert.ok(firstDhcp(direct.mac) < kernelAt(RACK_NODE_ADDRESS) && firstDhcp(rack.mac) < kernelAt(poolIp), 'the two boots overlapped');
    // Its part is done: the rest of the test has the CPU to itself.
    await direct.vm.stop();

    // networkd renews at T1 by unicast to the server identifier, the rack's server address:
    // through the router, not the relay, and the server places it by its address.
    const { renewals } = await lab.renewalsAfterSwitchRoot(rack, RACK_NODE_ADDRESS, 2, 3 * LEASE_SEC * 1000);
    for (const a of renewals) assert.deepEqual([a['ip'], a['subnet'], a['node']], [RACK_NODE_ADDRESS, `${RACK_NETWORK}.0/24`, 'host:lab1']);

    await assertOverlayAndReboot(lab, true);
    assertTimeline(await lab.serverLog(), rack.mac, 2, true);
  } finally {
    await lab.stop();
  }
});

test('an allowed unknown machine boots the default profile (copy-to-RAM root on e1000, pool address with one-minute leases): sshd accepts a login with host keys it made at boot, reported as ephemeral; networkd renews the lease and keeps the address when it stops', { timeout: 15 * MINUTES }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'dl-unlisted-e2e-'));
  const lab = await DebianLab.start({ mode: 'live', copy: true, nic: 'e1000', unlisted: true, leaseTimeSec: LEASE_SEC });
  try {
    await lab.login();
    assert.equal(await lab.systemState(), 'running');
    assert.match(await lab.run('findmnt -n -o FSTYPE /'), /^tmpfs/, 'the root is the RAM copy itself');
    assert.match(await lab.run('cat /sys/class/net/*/device/uevent | grep DRIVER='), /DRIVER=e1000\b/);
    assert.match(await lab.run('test -e /run/initramfs/diskless/image/root.sqfs || echo image-freed'), /image-freed/);
    assert.equal((await lab.run('hostname')).trim(), LAB_IMAGE_HOSTNAME, 'the server names only inventory nodes');
    const address = await lab.leasedAddress(lab.mac);
    assert.match(String(address), /^10\.77\.0\.1[0-5]\d$/, 'an address from the pool');
    assert.match(await lab.run('ip -4 -o addr show'), new RegExp(`inet ${String(address).replace(/\./g, '\\.')}/24`));

    // sshd runs with keys the node made at this boot (the image has none, the server holds none
    // for a machine it does not know); root's key is typed on the console, then the admin logs
    // in checking the host key against the one the node shows there.
    assert.equal((await lab.run('systemctl is-active ssh')).trim(), 'active');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'admin@lab', '-f', join(work, 'admin')]);
    const adminPub = (await readFile(join(work, 'admin.pub'), 'utf8')).trim();
    await typeLine(lab, '/root/.ssh/authorized_keys', adminPub);
    const hostKey = (await lab.run('cat /etc/ssh/ssh_host_ed25519_key.pub')).trim().split(/\s+/).slice(0, 2).join(' ');
    assert.match(hostKey, /^ssh-ed25519 AAAA/);
    await writeFile(join(work, 'known_hosts'), `${address} ${hostKey}\n`);
    const ssh = await lab.net.exec(lab.net.name, ['ssh', '-i', join(work, 'admin'), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${join(work, 'known_hosts')}`, '-o', 'HostKeyAlgorithms=ssh-ed25519', '-o', 'ConnectTimeout=20', `root@${address}`, 'hostname'], { timeoutMs: 60_000 });
    assert.equal(ssh.stdout.trim(), LAB_IMAGE_HOSTNAME);

    // The handoff row of its timeline says the host keys are this boot's own.
    const detail = JSON.parse((await lab.net.exec(lab.net.name, ['curl', '-sf', `${LAB_ADMIN_URL}/api/v1/nodes/${lab.mac}`])).stdout) as { known: boolean; timeline: Array<{ name: string; detail: string }> };
    assert.equal(detail.known, false);
    assert.match(detail.timeline.find((r) => r.name === 'handoff')?.detail ?? '', /(^| )ssh_host_keys=ephemeral( |$)/);

    await assertLeaseRenewedByNetworkd(lab, String(address));
    // Stopped (as at shutdown), networkd leaves the address and routes in place: the admin still gets in.
    await lab.run('systemctl stop systemd-networkd.socket systemd-networkd.service');
    assert.match(await lab.run('systemctl is-active systemd-networkd.service'), /^inactive$/m);
    assert.match(await lab.run('ip -4 -o addr show dev eth0'), new RegExp(`inet ${String(address).replace(/\./g, '\\.')}/24 .*valid_lft forever`));
    const again = await lab.net.exec(lab.net.name, ['ssh', '-i', join(work, 'admin'), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${join(work, 'known_hosts')}`, '-o', 'HostKeyAlgorithms=ssh-ed25519', '-o', 'ConnectTimeout=20', `root@${address}`, 'hostname'], { timeoutMs: 60_000 });
    assert.equal(again.stdout.trim(), LAB_IMAGE_HOSTNAME, 'reachable with networkd stopped');
  } finally {
    await lab.stop();
    await rm(work, { recursive: true, force: true });
  }
});

/**
 * The image runs systemd-networkd, which the initramfs handed the boot interface with DHCP:
 * after the switch_root the server hears the node renew its pool address at T1 (a REQUEST
 * unicast from that address, ACKed as renewing), at least twice, never more than a lease
 * apart, and always for the same address, which the node keeps configured for good.
 */
async function assertLeaseRenewedByNetworkd(lab: DebianLab, address: string): Promise<void> {
  const handoff = reports(await lab.serverLog(), lab.mac).find((r) => r['stage'] === 'handoff');
  assert.match(String(handoff?.['detail']), /(^| )network_manager=networkd lease_renewal=networkd( |$)/, 'the lab image runs networkd');
  // networkd starts at about the time of the login prompt: two renewals take a lease from there.
  const { acks } = await lab.renewalsAfterSwitchRoot(lab.nodes[0]!, address, 2, 3 * LEASE_SEC * 1000);
  assert.deepEqual([...new Set(acks.map((l) => l['ip']))], [address], 'every lease since the switch_root is for the same address');
  const time = (l: Line) => Date.parse(String(l['ts']));
  const gaps = acks.slice(1).map((l, i) => time(l) - time(acks[i]!));
  assert.ok(gaps.every((g) => g < LEASE_SEC * 1000), `acks since networkd's first no more than a lease apart: ${gaps.join(', ')} ms`);
  assert.equal(await lab.leasedAddress(lab.mac), address, 'the server holds the address bound to the node');
  assert.match(await lab.run('ip -4 -o addr show dev eth0'), new RegExp(`inet ${address.replace(/\./g, '\\.')}/24 .*valid_lft forever`), 'configured for good');
}

/** Writes one line into a file on the node by typing it, checked by reading it back. */
async function typeLine(lab: DebianLab, file: string, line: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const back = await lab.run(`mkdir -p -m 700 ${file.replace(/\/[^/]*$/, '')}; echo '${line}' > ${file}; chmod 600 ${file}; cat ${file}`);
    if (back.trim().split('\n').at(-1)!.trim() === line) return;
  }
  throw new Error(`could not type ${line.length} characters into ${file} on the console intact`);
}

test('USB NIC only: kernel handed over directly with BOOTIF, coldplug waits for the NIC to enumerate, live root to the login prompt', { timeout: 15 * MINUTES }, async () => {
  const lab = await DebianLab.start({ mode: 'live', nic: 'usb-net' });
  try {
    await lab.login();
    assert.equal(await lab.systemState(), 'running', await lab.run('systemctl --failed --no-legend --plain; journalctl -b -p err --no-pager | tail -n 20'));
    assert.match(await lab.run('cat /sys/class/net/*/device/uevent | grep DRIVER='), /DRIVER=cdc_ether\b/, 'the root came over the USB NIC');
    assert.equal((await lab.run('systemctl is-active ssh')).trim(), 'active', 'sshd runs with host keys the node made itself (the server gave it none)');
    assert.equal((await lab.run('hostname')).trim(), 'lab1');
    const modules = reports(await lab.serverLog(), lab.mac).find((r) => r['stage'] === 'modules');
    assert.match(String(modules?.['detail']), new RegExp(`waited_ms=\\d+ boot_mac=${lab.mac} outcome=found rounds=\\d+`), 'the modules stage says what it waited for');
  } finally {
    await lab.stop();
  }
});

test('NBD root: attached lazily, survives the server being down for 20 s during attach, reboots cleanly', { timeout: 20 * MINUTES }, async () => {
  const lab = await DebianLab.start({ mode: 'nbd', nic: 'virtio-net-pci' });
  try {
    // Failure drill: every service goes away as the node reaches its root stage.
    await lab.vm.waitFor(/stage network done/, 5 * MINUTES);
    await lab.restartServer(20_000);
    await lab.login();
    const console = lab.vm.consoleText();
    assert.match(console, /attempt \d+ to attach the root failed: NBD attach of debian from 10\.77\.0\.1:10809 failed/);
    assert.match(console, /root attached on attempt \d+/);
    await assertBootedSystem(lab, /^squashfs\s+\/dev\/nbd0/);
    await assertOverlayAndReboot(lab, true);
    // Stopping the server ends the NBD connections and logs what each one read.
    await lab.restartServer(0);
    const reads = (await lab.serverLog()).filter((l) => l['service'] === 'nbd' && typeof l['bytesRead'] === 'number' && (l['bytesRead'] as number) > 0);
    assert.ok(reads.length > 0, 'NBD connections were logged');
    const size = statSync(lab.image.squashfs).size;
    for (const r of reads) assert.ok((r['bytesRead'] as number) < size / 2, `lazy: ${String(r['bytesRead'])} of ${size} bytes read`);
    assertTimeline(await lab.serverLog(), lab.mac, 2, false);
  } finally {
    await lab.stop();
  }
});

test('NFS roots from the image store: v4 boot, a publish under the running node, hosts outside the inventory cannot mount, a clean reboot into the new version over v3 that forgets the overlay (e1000)', { timeout: 15 * MINUTES }, async () => {
  const lab = await DebianLab.start({
    mode: 'nfs', fromStore: true, nic: 'e1000', foreignHost: true, rpcbind: true,
    serverExtra: 'nfs_clients: inventory',
    extraProfiles: '  debian3:\n    inherits: debian\n    root: { mode: nfs, version: 3, retry: 120 }\n',
  });
  try {
    const v1 = (await lab.store.resolve('lab')).version;
    await lab.login();
    await assertBootedSystem(lab, new RegExp(`^nfs4\\s+10\\.77\\.0\\.1:/images/lab/${v1}\\s*$`));
    assert.match(await lab.run('stat -c %U /usr/bin/mount'), /^root/, 'owners are numeric, not nobody');

    // A publish while the node runs: the node goes on reading its own version's tree.
    const variant = await ensureLabImageVariant(lab.image);
    const v2 = (await lab.store.addVersion('lab', { squashfs: variant, kernel: lab.image.kernel, initrd: lab.initrd, kernelVersion: lab.image.kernelVersion, link: true, parent: v1 })).version;
    await lab.store.publish('lab', v2);
    assert.match(await lab.run('md5sum /usr/bin/[a-d]* >/dev/null && echo reads-ok; test -e /etc/diskless-variant || echo no-variant'), /reads-ok\s+no-variant/);

    // The export is closed to a host the inventory does not list (the foreign namespace, same subnet), v3 and v4.
    for (const version of [3, 4]) {
      const r = await lab.net.exec(lab.net.foreignName!, ['nfs-ls', `nfs://10.77.0.1/images/lab/${v1}?version=${version}`], { check: false, timeoutMs: 60_000 });
      assert.notEqual(r.code, 0, `NFSv${version} from 10.77.0.2 must fail: ${r.stdout}`);
      assert.match(r.stderr, version === 3 ? /MNT3ERR_ACCES|Permission denied/ : /NFS4ERR_NOENT|NFS4ERR_ACCESS|NFS4ERR_PERM/, `NFSv${version} refusal`);
    }

    // Move the node to the v3 profile: the boot script its next boot fetches pins the published
    // v2 over NFSv3 (the server unpacks v2's tree for it). A write lands in the overlay, the node
    // reboots cleanly into v2 over v3, and the write is gone.
    await writeFile(lab.configPath, (await readFile(lab.configPath, 'utf8')).replace(/profile: debian\n/, 'profile: debian3\n'));
    await waitForLog(lab, (l) => l['msg'] === 'config reloaded');
    const script = (await lab.net.exec(lab.net.name, ['curl', '-sS', '--max-time', '120', `http://10.77.0.1/boot/${lab.mac}.ipxe`])).stdout;
    assert.match(script, new RegExp(`root=nfs:10\\.77\\.0\\.1:/images/lab/${v2}:vers=3 `), script);
    await assertOverlayAndReboot(lab, true);
    assert.match(await lab.run('findmnt -n -o FSTYPE,SOURCE,OPTIONS /run/initramfs/diskless/lower'), new RegExp(`^nfs\\s+10\\.77\\.0\\.1:/images/lab/${v2}\\s+\\S*vers=3`), 'the new version, over v3');
    assert.equal((await lab.run('cat /etc/diskless-variant')).trim(), 'variant-2');
    assert.equal(await lab.systemState(), 'running', 'no failed units on the v3 root');
    const log = await lab.serverLog();
    assertTimeline(log, lab.mac, 2, false);
    const roots = reports(log, lab.mac).filter((r) => r['stage'] === 'root' && r['status'] === 'ok').map((r) => String(r['detail']));
    assert.match(roots[0] ?? '', /nfs_version=4/);
    assert.match(roots[1] ?? '', /nfs_version=3/);
  } finally {
    await lab.stop();
  }
});

async function waitForLog(lab: DebianLab, match: (l: Line) => boolean, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await lab.serverLog()).some(match); await new Promise((r) => setTimeout(r, 200))) {
    if (Date.now() > deadline) throw new Error(`no such server log line within ${timeoutMs} ms`);
  }
}
