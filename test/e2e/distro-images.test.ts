// Images that are not Debian's own layout: a root tree laid out the Red Hat way (the kernel only
// at /usr/lib/modules/V/vmlinuz, no /boot, every module recompressed as .ko.zst, no nbd.ko),
// built into an OCI image whose second layer deletes and replaces files, pushed to a real
// registry (Debian's docker-registry, TLS) inside the lab namespace, imported with `diskless
// image import docker://…` and booted live to systemd's login prompt. And Debian trixie (kernel
// 6.12, .ko.xz modules under /usr/lib/modules) booted live (NetworkManager keeping the lease) and
// over NBD (NetworkManager masked: the lease keeper).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DebianLab, labCertificate } from '../../src/lab/debian-lab.js';
import { ensureLabImage, TRIXIE_RECIPE } from '../../src/lab/lab-image.js';
import { defaultCacheDir, LAB_SERVER } from '../../src/lab/tiny-lab.js';
import { redHatLayout } from '../../src/lab/redhat-layout.js';
import { run } from '../../src/process/run.js';
import { readJsonLog } from '../../src/lab/lab-server.js';

const MINUTES = 60_000;
/** dhcp.lease_time of the trixie boots: the lease keeper renews every 30 s. */
const LEASE_SEC = 60;
/** The live trixie node's pool: this one address. */
const POOL_ONE = '10.77.0.120';
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
test('a Red Hat layout (.ko.zst, no /boot, no nbd.ko) from a real registry: imported, booted live', { timeout: 40 * MINUTES }, async () => {
  const cacheDir = defaultCacheDir();
  const image = await ensureLabImage(cacheDir);
  const layout = await redHatLayout(image, cacheDir);
  const cert = await labCertificate(cacheDir);
  const ref = `docker://${LAB_SERVER}:5000/lab/redhat:v1`;
  let digest = '';
  let importOutput = '';
  const lab = await DebianLab.start({
    mode: 'live',
    fromStore: true,
    storeImage: async (lab) => {
      // The registry serves TLS with the lab server's certificate, which the import trusts with --ca.
      const regDir = join(lab.dir, 'registry');
      await mkdir(join(regDir, 'certs'), { recursive: true });
      await writeFile(join(regDir, 'certs/ca.crt'), cert.certPem);
      await writeFile(join(regDir, 'config.yml'), [
        'version: 0.1',
        'log: { level: warn }',
        `storage: { filesystem: { rootdirectory: ${join(regDir, 'data')} } }`,
        `http: { addr: "${LAB_SERVER}:5000", tls: { certificate: ${cert.certFile}, key: ${cert.keyFile} } }`,
        '',
      ].join('\n'));
      const registry = await lab.net.spawn(lab.net.name, ['docker-registry', 'serve', join(regDir, 'config.yml')]);
      for (const deadline = Date.now() + 60_000; ;) {
        const up = await lab.net.exec(lab.net.name, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', cert.certFile, `https://${LAB_SERVER}:5000/v2/`], { check: false });
        if (up.stdout === '200') break;
        if (Date.now() > deadline) throw new Error(`docker-registry did not answer: ${registry.output()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await lab.net.exec(lab.net.name, ['skopeo', 'copy', '-q', '--dest-cert-dir', join(regDir, 'certs'), `oci:${layout}:v1`, ref]);
      digest = (await lab.net.exec(lab.net.name, ['skopeo', 'inspect', '--cert-dir', join(regDir, 'certs'), '--format', '{{.Digest}}', ref])).stdout.trim();
      const imported = await lab.net.exec(lab.net.name, [process.execPath, CLI, 'image', 'import', 'lab', ref, '--ca', cert.certFile, '--config', lab.configPath]);
      importOutput = imported.stdout + imported.stderr;
      const version = /^imported lab@([0-9a-f]{16}) /.exec(imported.stdout)?.[1];
      assert.ok(version, importOutput);
      await lab.store.publish('lab', version);
    },
  });
  try {
    const m = (await lab.store.resolve('lab')).manifest;
    assert.deepEqual(m.source, { ref, digest }, 'the registry digest is recorded');
    assert.equal(m.kernelVersion, image.kernelVersion, 'the kernel found at /usr/lib/modules/V/vmlinuz');
    assert.deepEqual(m.rootModes, ['live', 'nfs'], 'no nbd.ko: the initrd attaches live and NFS roots');
    assert.match(importOutput, /Copying blob sha256:/, 'pull progress');
    assert.match(importOutput, /unpack layer/, 'unpack progress');
    assert.match(importOutput, /lacks the modules for nbd roots/);

    await lab.login();
    // One marked line: kernel messages may reach the console while systemd finishes starting.
    assert.equal(await lab.systemState(), 'running', 'no failed units');
    assert.equal((await lab.run('uname -r')).trim(), image.kernelVersion);
    assert.match(await lab.run('test -e /boot || echo no-boot'), /no-boot/);
    assert.match(await lab.run('lsmod | grep -c "^virtio_net "'), /^1/m, 'the NIC driver, a .ko.zst in the image, loaded in the initramfs');
    assert.match(await lab.run('ls /lib/modules/$(uname -r)/kernel/drivers/net/virtio_net.ko.zst && echo zst-in-image'), /zst-in-image/);
    assert.equal((await lab.run('cat /etc/diskless-release')).trim(), 'second layer', 'a file replaced by the upper layer');
    assert.match(await lab.run('test -e /etc/diskless-victim || echo victim-gone'), /victim-gone/, 'a whiteout deletes');
    assert.equal((await lab.run('ls /opt/layered')).trim(), 'new', 'an opaque directory hides the lower one');
    assert.match(await lab.run('findmnt -n -o FSTYPE /run/initramfs/diskless/lower'), /^squashfs/);

    assert.deepEqual(await timeline(lab), ['cmdline', 'modules', 'network', 'fetched', 'verified', 'root', 'overlay', 'identity', 'handoff', 'switch_root', 'booted'], 'the whole timeline');
    const initrd = await run(['sh', '-c', 'zstd -dc "$1" | cpio -i --quiet --to-stdout etc/diskless-initrd.json', 'sh', lab.store.paths('lab', m.version).initrd]);
    const im = JSON.parse(initrd.stdout) as { modules: Array<{ path: string }> };
    assert.ok(im.modules.length > 0 && im.modules.every((x) => x.path.endsWith('.ko')), 'the initrd carries plain .ko files');
  } finally {
    await lab.stop();
  }
});

/**
 * The trixie image's NetworkManager is masked on this boot's command line, so the system runs no
 * network manager: the initramfs left its lease keeper (busybox udhcpc) running, which renews at
 * T1 from the node's address, always the same address, and counts its renewals in
 * /run/diskless/net/lease-keeper.state.
 */
async function assertLeaseKept(lab: DebianLab): Promise<void> {
  const node = lab.nodes[0]!;
  const handoff = (await readJsonLog(lab.serverLogPath)).find((l) => l['service'] === 'node' && l['mac'] === lab.mac && l['stage'] === 'handoff');
  assert.match(String(handoff?.['detail']), /(^| )network_manager=none lease_renewal=keeper( |$)/);
  const { acks } = await lab.renewalsAfterSwitchRoot(node, node.address, 2, 3 * LEASE_SEC * 1000);
  assert.deepEqual([...new Set(acks.map((l) => l['ip']))], [node.address], 'every lease since the switch_root is for the same address');
  // The server logs its ACK before the node has read it: the keeper's count may lag by one for a moment.
  let state = '';
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 1000))) {
    state = await lab.run('cat /run/diskless/net/lease-keeper.state');
    if (/^RENEWALS='([2-9]|\d{2,})'$/m.test(state) || Date.now() > deadline) break;
  }
  assert.match(state, /^RENEWALS='([2-9]|\d{2,})'$/m, 'the keeper saw its renewals acknowledged');
  assert.match(await lab.run('ip -4 -o addr show'), new RegExp(`inet ${node.address.replace(/\./g, '\\.')}/24 `));
}

/**
 * The trixie image runs NetworkManager (its package enables it): the initramfs handed it the
 * boot interface, and NetworkManager took the address over as configured, renewing it at T1 with
 * its own DHCP client (a REQUEST unicast from the address, ACKed as renewing), always the same
 * address, never more than a lease apart, counted from the initramfs's last ACK: the lease never
 * lapsed while the system started (the lease keeper bridged it, until NetworkManager ran). The
 * address keeps the lease's lifetime NetworkManager gives it.
 */
async function assertLeaseKeptByNetworkManager(lab: DebianLab): Promise<void> {
  const node = lab.nodes[0]!;
  const log = await readJsonLog(lab.serverLogPath);
  const handoff = log.find((l) => l['service'] === 'node' && l['mac'] === lab.mac && l['stage'] === 'handoff');
  assert.match(String(handoff?.['detail']), /(^| )network_manager=NetworkManager lease_renewal=NetworkManager( |$)/);
  const { acks, switchedAt } = await lab.renewalsAfterSwitchRoot(node, node.address, 2, 3 * LEASE_SEC * 1000);
  assert.deepEqual([...new Set(acks.map((l) => l['ip']))], [node.address], 'every lease since the switch_root is for the same address');
  const time = (l: Record<string, unknown>) => Date.parse(String(l['ts']));
  const before = (await readJsonLog(lab.serverLogPath)).filter((l) => l['service'] === 'dhcp' && l['type'] === 'ack' && l['mac'] === lab.mac && time(l) <= switchedAt);
  const all = [...before.slice(-1), ...acks];
  const gaps = all.slice(1).map((l, i) => time(l) - time(all[i]!));
  assert.ok(before.length > 0 && gaps.every((g) => g < LEASE_SEC * 1000), `acks from the initramfs's last on, no more than a lease apart: ${gaps.join(', ')} ms`);
  // The lease keeper bridged the system's start and ended once NetworkManager ran.
  assert.match(await lab.run('cat /run/diskless/net/lease-keeper.state'), /^HANDED='NetworkManager'$/m);
  assert.match(await lab.run('grep -lx udhcpc /proc/[0-9]*/comm || echo no-udhcpc'), /^no-udhcpc$/m);
  const device = await lab.run('nmcli -t -f GENERAL.STATE,GENERAL.CONNECTION device show eth0');
  assert.match(device, /^GENERAL\.STATE:100 \(connected\)$/m, 'NetworkManager manages the boot interface');
  assert.match(device, /^GENERAL\.CONNECTION:diskless-eth0$/m, 'with the connection the initramfs wrote');
  assert.match(await lab.run('ip -4 -o addr show dev eth0'), new RegExp(`inet ${node.address.replace(/\./g, '\\.')}/24 .*dynamic.*valid_lft \\d+sec`), 'the address NetworkManager renews');
}

/** Once the node reports its switch_root, the foreign host runs busybox udhcpc every few seconds. */
async function askAllAlong(lab: DebianLab): Promise<void> {
  for (const deadline = Date.now() + 10 * MINUTES; ; await new Promise((r) => setTimeout(r, 500))) {
    const log = await readJsonLog(lab.serverLogPath);
    if (log.some((l) => l['service'] === 'node' && l['mac'] === lab.mac && l['stage'] === 'switch_root')) break;
    if (Date.now() > deadline) throw new Error('no switch_root report');
  }
  await lab.net.spawn(lab.net.foreignName!, ['busybox', 'sh', '-c', 'while :; do busybox udhcpc -i eth0 -n -q -t 1 -T 2 -s /bin/true; sleep 3; done']);
}

/**
 * Another machine (the lab's foreign host, a MAC the inventory does not list, under
 * unknown_clients register, which gives such machines an address) asks for one with busybox
 * udhcpc every few seconds from the node's switch_root on, and once more now, while the node runs
 * on the pool's only address: the node's lease never lapsed, so that address was never offered
 * to the other machine, which got nothing.
 */
async function assertNeverOffered(lab: DebianLab): Promise<void> {
  const foreign = lab.net.foreignName!;
  const mac = (await lab.net.exec(foreign, ['cat', '/sys/class/net/eth0/address'])).stdout.trim();
  const asked = await lab.net.exec(foreign, ['busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-t', '3', '-T', '2', '-s', '/bin/true'], { check: false, timeoutMs: 60_000 });
  assert.notEqual(asked.code, 0, `the other machine got no lease: ${asked.stdout}${asked.stderr}`);
  const log = await readJsonLog(lab.serverLogPath);
  const heard = log.filter((l) => l['service'] === 'dhcp' && l['mac'] === mac);
  assert.ok(heard.length >= 10, `the server heard the other machine all along: ${heard.length} log lines`);
  const offers = log.filter((l) => l['service'] === 'dhcp' && (l['type'] === 'offer' || l['type'] === 'ack') && l['ip'] === POOL_ONE && l['mac'] !== lab.mac);
  assert.deepEqual(offers, [], 'the node\'s address was offered to no other machine');
}

/** The node's "ok" stage reports, in order, once its "booted" report came (it can follow the login prompt). */
async function timeline(lab: DebianLab): Promise<string[]> {
  const stagesOk = async () => (await readJsonLog(lab.serverLogPath))
    .filter((l) => l['service'] === 'node' && l['mac'] === lab.mac && l['status'] === 'ok').map((l) => String(l['stage']));
  for (const deadline = Date.now() + 2 * MINUTES; !(await stagesOk()).includes('booted');) {
    if (Date.now() > deadline) throw new Error(`no "booted" report: ${(await stagesOk()).join(' ')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return stagesOk();
}

for (const mode of ['live', 'nbd'] as const) {
  // The live boot runs the image's NetworkManager; the NBD boot masks it, so no network manager runs.
  const manager = mode === 'live' ? 'NetworkManager renews' : 'NetworkManager masked on the command line, so the lease keeper renews';
  test(`Debian trixie (kernel 6.12, .ko.xz modules): ${mode} root to the login prompt; ${manager} the one-minute lease`, { timeout: 30 * MINUTES }, async () => {
    // The live node takes the only address of the pool; another machine asks for one while it runs.
    const lab = await DebianLab.start({
      mode, recipe: TRIXIE_RECIPE, leaseTimeSec: LEASE_SEC,
      ...(mode === 'nbd' ? { nodeCmdline: 'systemd.mask=NetworkManager.service' } : {
        poolNodes: [0], pool: `${POOL_ONE}-${POOL_ONE}`, foreignHost: true, unknownClients: 'register' as const,
      }),
    });
    // From the node's switch_root on (its initramfs has its lease), another machine asks for an
    // address every few seconds, through the system's start and the renewals.
    const asking = mode === 'live' ? askAllAlong(lab) : Promise.resolve();
    asking.catch(() => {}); // awaited below; a boot that fails first is the failure to report
    try {
      await lab.login();
      if (mode === 'live') lab.nodes[0]!.address = (await lab.leasedAddress(lab.mac)) ?? '';
      const state = await lab.systemState();
      assert.equal(state, 'running', `no failed units${state === 'running' ? '' : `: ${await lab.run('systemctl --failed --no-legend --plain; journalctl -b -p err --no-pager | tail -20')}`}`);
      assert.match(lab.image.kernelVersion, /^6\.12\./);
      assert.equal((await lab.run('uname -r')).trim(), lab.image.kernelVersion, 'the image\'s own kernel');
      assert.match(await lab.run('lsmod | grep -c "^virtio_net "'), /^1/m, 'the NIC driver, a .ko.xz in the image, loaded in the initramfs');
      assert.match(await lab.run('ls /lib/modules/$(uname -r)/kernel/drivers/net/virtio_net.ko.xz && echo xz-in-image'), /xz-in-image/);
      assert.match(await lab.run('findmnt -n -o FSTYPE,SOURCE /run/initramfs/diskless/lower'), mode === 'live' ? /^squashfs\s+\/dev\/loop\d+/ : /^squashfs\s+\/dev\/nbd0/);
      assert.deepEqual(await timeline(lab), ['cmdline', 'modules', 'network', ...(mode === 'live' ? ['fetched', 'verified'] : []), 'root', 'overlay', 'identity', 'handoff', 'switch_root', 'booted'], 'the whole timeline');
      if (mode === 'live') {
        await asking;
        assert.equal(lab.nodes[0]!.address, POOL_ONE, 'the pool address');
        await assertLeaseKeptByNetworkManager(lab);
        await assertNeverOffered(lab);
      }
      else await assertLeaseKept(lab);
    } finally {
      await lab.stop();
    }
  });
}
