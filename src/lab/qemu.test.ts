import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertLabHost, hostKernel } from './lab-host.js';
import { LabNetwork } from './netns.js';
import { QemuMachine } from './qemu.js';
import { buildTinyInitramfs, markerPattern } from './tiny-initramfs.js';

assertLabHost();

const since = (t0: number): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

test('the host kernel with the tiny initramfs prints its marker and command line, then powers off', async (t) => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'diskless-initramfs-'));
  t.after(() => rmSync(cacheDir, { recursive: true, force: true }));
  const lab = await LabNetwork.create();
  t.after(() => lab.destroy());
  const markerId = `direct-${process.pid}`;
  const initrd = await buildTinyInitramfs({ markerId, cacheDir });

  const t0 = performance.now();
  const vm = await QemuMachine.start({
    network: lab,
    boot: { kind: 'kernel', kernel: hostKernel(), initrd: initrd.path, append: 'quiet diskless.test=direct' },
  });
  t.after(() => vm.stop());
  const m = await vm.waitFor(markerPattern(markerId), 60_000);
  t.diagnostic(`marker after ${since(t0)} (bios, direct kernel boot, TCG)`);
  assert.match(m[1] ?? '', /^console=ttyS0 quiet diskless\.test=direct panic=-1\s*$/);

  // poweroff -f ends QEMU (-no-reboot); a wait for something that never comes fails at once
  // and shows what the console said.
  const err = await vm.waitFor(/never printed/, 60_000).catch((e: unknown) => e as Error);
  assert.ok(err instanceof Error);
  assert.match(err.message, /QEMU exited \(code 0\)/);
  assert.match(err.message, /DISKLESS-MARKER direct-\d+ cmdline=/);
  assert.deepEqual(await vm.exited, { code: 0, signal: null });
  assert.match(vm.consoleText(), /reboot: Power down/);
});

test('BIOS network boot: the NIC option ROM starts iPXE, which asks for DHCP', async (t) => {
  const lab = await LabNetwork.create();
  t.after(() => lab.destroy());
  const t0 = performance.now();
  const vm = await QemuMachine.start({ network: lab, boot: { kind: 'network' }, mac: '52:54:00:77:00:01' });
  t.after(() => vm.stop());
  await vm.waitFor(/iPXE \d[^\n]* -- Open Source Network Boot Firmware/, 30_000);
  await vm.waitFor(/net0: 52:54:00:77:00:01 using virtio-net on [0-9a-f:.]+ \(open\)/, 30_000);
  const m = await vm.waitFor(/Configuring \(net0 52:54:00:77:00:01\)/, 30_000);
  t.diagnostic(`iPXE DHCP after ${since(t0)}`);
  assert.ok(m.index > 0);
});

test('UEFI network boot without the option ROM: OVMF starts its own PXE over IPv4', async (t) => {
  const lab = await LabNetwork.create();
  t.after(() => lab.destroy());
  const t0 = performance.now();
  const vm = await QemuMachine.start({ network: lab, boot: { kind: 'network' }, firmware: 'uefi', optionRom: false });
  t.after(() => vm.stop());
  await vm.waitFor(/>>Start PXE over IPv4/, 60_000);
  t.diagnostic(`OVMF PXE after ${since(t0)}`);
  assert.doesNotMatch(vm.consoleText(), /iPXE/);
});
