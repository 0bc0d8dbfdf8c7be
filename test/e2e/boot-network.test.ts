// A node as sites build it, in one boot: two NICs bonded (active-backup) whose active link is
// cut under the running node, and a local disk for the overlay, swap, scratch and kept
// directories beside a disk carrying a site's own filesystem, which is never formatted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DebianLab } from '../../src/lab/debian-lab.js';
import { run } from '../../src/process/run.js';

const MINUTES = 60_000;

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await new Promise((r) => setTimeout(r, 500))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
  }
}

async function blkid(file: string): Promise<string> {
  return (await run(['blkid', '-c', '/dev/null', '-o', 'export', file])).stdout;
}

test('bond active-backup over two NICs, its active link cut under the running node; a blank local disk made ours for upper, swap, scratch and kept directories, a site\'s disk beside it untouched', { timeout: 20 * MINUTES }, async () => {
  // Two disks match: the first carries a site's own ext4, the second is blank.
  const disks = await mkdtemp(join(tmpdir(), 'dl-disks-'));
  const foreign = join(disks, 'foreign.img');
  const blank = join(disks, 'blank.qcow2');
  await run(['truncate', '-s', '64M', foreign]);
  await run(['mke2fs', '-t', 'ext4', '-q', '-F', '-L', 'sitedata', foreign]);
  const foreignBefore = await blkid(foreign);
  await run(['qemu-img', 'create', '-q', '-f', 'qcow2', blank, '1G']);
  const lab = await DebianLab.start({
    mode: 'nbd',
    secondNic: true,
    nodeExtra: (n) => `    network: { bond: { mode: active-backup, interfaces: ["${n.mac}", "${n.mac2}"] } }\n`,
    profileExtra: `
    disk:
      match: { by_id: "virtio-dl*" }
      swap: 64M
      scratch: /scratch
      persist: [/var/lib/dlprobe, /etc/dlkept]`,
    qemuArgs: [
      '-drive', `file=${foreign},format=raw,if=none,id=d0`, '-device', 'virtio-blk-pci,drive=d0,serial=dlforeign',
      '-drive', `file=${blank},format=qcow2,if=none,id=d1`, '-device', 'virtio-blk-pci,drive=d1,serial=dlscratch',
    ],
  });
  try {
    await lab.login();
    assert.equal((await lab.run('systemctl is-system-running --wait')).trim(), 'running', await lab.run('systemctl --failed --no-legend --plain'));

    // The local disk: the blank one formatted and used, the site's left alone.
    const overlay = (await lab.serverLog()).find((l) => l['service'] === 'node' && l['mac'] === lab.mac && l['stage'] === 'overlay' && l['status'] === 'ok');
    assert.match(String(overlay?.['detail']), /(^| )disk=vdb upper=disk swap_mib=64 persist=2$/, lab.vm.consoleText().split('\n').filter((l) => l.startsWith('diskless: ')).join('\n'));
    assert.match(lab.vm.consoleText(), /disk \/dev\/vda matches but carries ext4 labelled sitedata, not ours: left alone/);
    assert.match(await lab.run('findmnt -n -o SOURCE,FSTYPE /run/initramfs/diskless/disk'), /^\/dev\/vdb\s+ext4/);
    assert.match(await lab.run('cat /proc/swaps'), /\/run\/initramfs\/diskless\/disk\/swap\s+file\s+65532/);
    assert.match(await lab.run('findmnt -n -o SOURCE /scratch'), /^\/dev\/vdb\[\/scratch\]/);
    assert.match(await lab.run('findmnt -n -o SOURCE /var/lib/dlprobe'), /^\/dev\/vdb\[\/persist\/var\/lib\/dlprobe\]/);
    assert.match(await lab.run('findmnt -n -o SOURCE /etc/dlkept'), /^\/dev\/vdb\[\/persist\/etc\/dlkept\]/);
    await lab.run('echo overlay > /root/f');
    assert.match(await lab.run('test -e /run/initramfs/diskless/disk/upper/root/f && echo upper-on-disk'), /upper-on-disk/);
    const bonding = await lab.run('cat /proc/net/bonding/bond0');
    assert.match(bonding, /Bonding Mode: fault-tolerance \(active-backup\)/);
    assert.match(bonding, /ARP IP target\/s \(n\.n\.n\.n form\):\s*10\.77\.0\.1/);
    assert.equal((bonding.match(/^Slave Interface:/gm) ?? []).length, 2, bonding);
    assert.match(await lab.run('ip -4 -o addr show dev bond0'), /inet 10\.77\.0\.11\/24/);
    const active = /Currently Active Slave: (\S+)/.exec(bonding)?.[1];
    assert.ok(active, bonding);
    const networkReport = (await lab.serverLog()).find((l) => l['service'] === 'node' && l['mac'] === lab.mac && l['stage'] === 'network' && l['status'] === 'ok');
    assert.match(String(networkReport?.['detail']), /bond=active-backup slaves=\w+,\w+/);

    // Cut the active NIC's link on the host side (its tap down): the bond fails over.
    await lab.net.exec(lab.net.name, ['ip', 'link', 'set', lab.vm.tap!, 'down']);
    await waitFor('failover to the second NIC', async () => /Currently Active Slave: (\S+)/.exec(await lab.run('cat /proc/net/bonding/bond0'))?.[1] !== active);
    // The root is read over the network: files never read before still come.
    assert.match(await lab.run('md5sum /usr/lib/x86_64-linux-gnu/*.so* >/dev/null && echo reads-ok', 5 * MINUTES), /reads-ok/);
  } finally {
    await lab.stop();
  }
  try {
    // Never formatted: the site's filesystem has the same UUID and label as before.
    assert.equal(await blkid(foreign), foreignBefore);
    assert.match(foreignBefore, /^LABEL=sitedata$/m);
  } finally {
    await rm(disks, { recursive: true, force: true });
  }
});
