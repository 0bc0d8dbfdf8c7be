import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QemuMachine } from '../lab/qemu.js';
import { buildInitramfs } from './build.js';
import { listKernelVersions } from './kernel-version.js';

const version = (await listKernelVersions('/'))[0];
const kernel = version === undefined ? undefined : `/boot/vmlinuz-${version}`;
const hasQemu = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0;
const skip = !hasQemu || kernel === undefined || !existsSync(kernel) || !existsSync('/bin/busybox')
  ? 'needs qemu-system-x86, linux-image-amd64 and busybox-static'
  : false;

const LIB = resolve(fileURLToPath(import.meta.url), '../../../../initramfs/lib');

/**
 * The real /init's coldplug (initramfs/lib/diskless/coldplug.sh) with no BOOTIF, so it must wait
 * for the devices to settle: virtio_net's device only appears once virtio_pci has bound, and the
 * USB NIC only once xhci_pci has loaded and the hub has enumerated it.
 */
const INIT = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /run && mount -t tmpfs tmpfs /run && mkdir -p /run/diskless /run/initramfs
for f in common cmdline coldplug network; do . /lib/diskless/$f.sh; done
parse_cmdline
if coldplug; then echo "COLDPLUG: $DL_STAGE_DETAIL"; else echo "COLDPLUG-FAILED: $DL_CAUSE"; fi
echo "NETIFS: $(ls /sys/class/net | tr '\\n' ' ')"
for m in nfsv4 nfsv3 nbd squashfs fs-overlay loop; do modprobe $m || echo "MODPROBE-FAILED $m"; done
echo "MODULES: $(cut -d' ' -f1 /proc/modules | sort | tr '\\n' ' ')"
echo INITRAMFS-QEMU-DONE
poweroff -f
`;

test('the default archive boots Debian\'s kernel: e1000, virtio-net and a USB NIC come up by coldplug, every boot module loads', { skip, timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'initramfs-qemu-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'init.d'));
  writeFileSync(join(dir, 'init.d', 'init'), INIT, { mode: 0o755 });
  cpSync(LIB, join(dir, 'init.d', 'lib'), { recursive: true });
  const initrd = join(dir, 'initrd.img');
  await buildInitramfs({ output: initrd, initDir: join(dir, 'init.d'), compressionLevel: 3 });

  const started = Date.now();
  // NICs without a backend: the guest sees the devices, and no packet can leave.
  const vm = await QemuMachine.start({
    boot: { kind: 'kernel', kernel: kernel!, initrd, append: 'quiet' },
    memoryMiB: 768,
    // usb-net hangs off an xHCI controller: its driver is reached only after xhci_pci has loaded.
    extraArgs: ['-device', 'e1000', '-device', 'virtio-net-pci', '-device', 'qemu-xhci', '-device', 'usb-net'],
  });
  t.after(() => vm.stop());
  await vm.waitFor(/INITRAMFS-QEMU-DONE/, 200_000);
  t.diagnostic(`booted to the end of /init in ${Date.now() - started} ms`);
  const text = vm.consoleText();
  assert.match(text, /COLDPLUG: waited_ms=\d+ settle_s=3 outcome=settled rounds=\d+/);
  const netifs = /NETIFS: (.*)/.exec(text)?.[1]?.trim().split(' ') ?? [];
  assert.deepEqual(netifs.filter((n) => n !== 'lo').sort(), ['eth0', 'eth1', 'usb0']);
  assert.doesNotMatch(text, /MODPROBE-FAILED/);
  const loaded = (/MODULES: (.*)/.exec(text)?.[1] ?? '').trim().split(' ');
  for (const m of ['e1000', 'virtio_net', 'virtio_pci', 'xhci_pci', 'cdc_ether', 'nfsv4', 'nfsv3', 'nbd', 'squashfs', 'overlay', 'loop']) assert.ok(loaded.includes(m), m);
});
