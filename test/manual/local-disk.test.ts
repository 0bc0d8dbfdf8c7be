// A node with a local disk: the overlay's upper layer, a swap file, scratch space and kept
// directories on it; the same node without the disk runs from RAM and says so; a disk that
// carries someone else's filesystem is never formatted; kept directories survive a reboot.
// Not in the suite (test/e2e), for its three boots: the bond boot there proves the disk in one.
// Run by hand: node --test dist/test/manual/local-disk.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DebianLab } from '../../src/lab/debian-lab.js';
import { run } from '../../src/process/run.js';

const MINUTES = 60_000;

/** The detail of the node's overlay stage reports, oldest first. */
async function overlayDetails(lab: DebianLab): Promise<string[]> {
  return (await lab.serverLog())
    .filter((l) => l['service'] === 'node' && l['mac'] === lab.mac && l['stage'] === 'overlay' && l['status'] === 'ok')
    .map((l) => String(l['detail']));
}

async function blkid(file: string): Promise<string> {
  return (await run(['blkid', '-c', '/dev/null', '-o', 'export', file])).stdout;
}

test('local disk: RAM only without it; with it, upper, swap, scratch and kept directories on it, a foreign filesystem beside it untouched; kept across a reboot', { timeout: 30 * MINUTES }, async () => {
  const lab = await DebianLab.start({
    mode: 'nbd',
    profileExtra: `
    disk:
      match: { by_id: "virtio-dl*" }
      swap: 64M
      scratch: /scratch
      persist: [/var/lib/dlprobe, /etc/dlkept]`,
  });
  try {
    // 1. No disk at all: RAM only, and the boot says so.
    await lab.login();
    assert.equal((await lab.run('systemctl is-system-running --wait')).trim(), 'running');
    assert.match((await overlayDetails(lab))[0] ?? '', /(^| )disk=none ram_only=1$/);
    assert.match(lab.vm.consoleText(), /no local disk \(no disk matches\): running from RAM only/);
    assert.match(await lab.run('findmnt -n -o FSTYPE /run/initramfs/diskless/rw'), /^tmpfs/, 'the upper layer is in RAM');
    assert.equal((await lab.run('tail -n +2 /proc/swaps')).trim(), '', 'no swap');

    // 2. Two disks that match: the first carries a site's own ext4, the second is blank.
    const foreign = join(lab.dir, 'foreign.img');
    const blank = join(lab.dir, 'blank.qcow2');
    await run(['truncate', '-s', '64M', foreign]);
    await run(['mke2fs', '-t', 'ext4', '-q', '-F', '-L', 'sitedata', foreign]);
    const foreignBefore = await blkid(foreign);
    await run(['qemu-img', 'create', '-q', '-f', 'qcow2', blank, '1G']);
    await lab.powerCycle([
      '-drive', `file=${foreign},format=raw,if=none,id=d0`, '-device', 'virtio-blk-pci,drive=d0,serial=dlforeign',
      '-drive', `file=${blank},format=qcow2,if=none,id=d1`, '-device', 'virtio-blk-pci,drive=d1,serial=dlscratch',
    ]);
    await lab.login();
    assert.equal((await lab.run('systemctl is-system-running --wait')).trim(), 'running', await lab.run('systemctl --failed --no-legend --plain'));
    const detail = (await overlayDetails(lab))[1] ?? '';
    if (!/(^| )disk=vdb upper=disk swap_mib=64 persist=2$/.test(detail)) {
      const initramfs = lab.vm.consoleText().split('\n').filter((l) => l.startsWith('diskless: ')).join('\n');
      const kernel = await lab.run('dmesg | grep -i -E "ext4|crc32c|vd[ab]|module" | tail -n 20');
      assert.fail(`overlay stage: ${detail}\n--- initramfs:\n${initramfs}\n--- kernel:\n${kernel}`);
    }
    assert.match(lab.vm.consoleText(), /disk \/dev\/vda matches but carries ext4 labelled sitedata, not ours: left alone/);
    assert.match(await lab.run('findmnt -n -o SOURCE,FSTYPE /run/initramfs/diskless/disk'), /^\/dev\/vdb\s+ext4/);
    assert.match(await lab.run('cat /proc/swaps'), /\/run\/initramfs\/diskless\/disk\/swap\s+file\s+65532/);
    assert.match(await lab.run('findmnt -n -o SOURCE /scratch'), /^\/dev\/vdb\[\/scratch\]/);
    assert.match(await lab.run('findmnt -n -o SOURCE /var/lib/dlprobe'), /^\/dev\/vdb\[\/persist\/var\/lib\/dlprobe\]/);
    await lab.run('echo kept > /var/lib/dlprobe/f; echo kept-too > /etc/dlkept/g; echo scratch > /scratch/f; echo overlay > /root/f');
    assert.match(await lab.run('test -e /run/initramfs/diskless/disk/upper/root/f && echo upper-on-disk'), /upper-on-disk/);

    // 3. A warm reboot: kept directories keep their files; scratch and the overlay start empty.
    const before = lab.vm.consoleText().length;
    await lab.vm.type('reboot\n');
    await lab.login(before, 6 * MINUTES);
    assert.equal((await lab.run('cat /var/lib/dlprobe/f /etc/dlkept/g')).trim(), 'kept\nkept-too');
    assert.match(await lab.run('test -e /scratch/f || echo scratch-empty; test -e /root/f || echo overlay-fresh'), /scratch-empty\s+overlay-fresh/);
    assert.doesNotMatch(lab.vm.consoleText().slice(before), /formatting \/dev\/vdb/, 'our own filesystem is used again, not made again');
    assert.match((await overlayDetails(lab))[2] ?? '', /(^| )disk=vdb upper=disk swap_mib=64 persist=2$/);

    // Never formatted: the site's filesystem has the same UUID and label as before, twice booted.
    assert.equal(await blkid(foreign), foreignBefore);
    assert.match(foreignBefore, /^LABEL=sitedata$/m);
  } finally {
    await lab.stop().catch(() => undefined);
  }
});
