import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type QemuSpec, qemuArgs, randomMac } from './qemu-args.js';

const base: QemuSpec = {
  boot: { kind: 'network' },
  firmware: 'bios',
  memoryMiB: 512,
  machine: 'q35',
  consolePath: '/tmp/vm.log',
  nic: { tap: 'tap0', model: 'virtio-net-pci', mac: '52:54:00:12:34:56', optionRom: true },
};

test('BIOS network boot through the NIC option ROM', () => {
  assert.deepEqual(qemuArgs(base), [
    '-machine', 'q35,graphics=off',
    '-m', '512',
    '-nodefaults', '-no-user-config',
    '-display', 'none',
    '-serial', 'file:/tmp/vm.log',
    '-no-reboot',
    '-netdev', 'tap,id=net0,ifname=tap0,script=no,downscript=no',
    '-device', 'virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56',
    '-boot', 'n',
  ]);
});

test('UEFI with the firmware PXE stack: OVMF flash, private vars, empty romfile', () => {
  const args = qemuArgs({
    ...base,
    firmware: 'uefi',
    uefiVarsPath: '/tmp/a,b/vars.fd',
    nic: { tap: 'tap1', model: 'virtio-net-pci', mac: '52:54:00:00:00:01', optionRom: false },
  });
  assert.ok(args.includes('if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd'));
  assert.ok(args.includes('if=pflash,format=raw,unit=1,file=/tmp/a,,b/vars.fd'), 'commas doubled');
  assert.ok(args.includes('virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01,romfile='));
});

test('OVMF without an e1000 ROM is refused: it has no e1000 driver', () => {
  assert.throws(
    () => qemuArgs({ ...base, firmware: 'uefi', uefiVarsPath: '/v', nic: { tap: 't', model: 'e1000', mac: 'm', optionRom: false } }),
    /OVMF has no e1000 driver/,
  );
});

test('direct kernel boot adds console and panic unless given', () => {
  const { nic: _nic, ...noNic } = base;
  const args = qemuArgs({ ...noNic, boot: { kind: 'kernel', kernel: '/k', initrd: '/i', append: 'quiet x=1' } });
  assert.deepEqual(args.slice(-8), ['-nic', 'none', '-kernel', '/k', '-initrd', '/i', '-append', 'console=ttyS0 quiet x=1 panic=-1']);
  const own = qemuArgs({ ...noNic, boot: { kind: 'kernel', kernel: '/k', append: 'console=ttyS1 panic=5' } });
  assert.equal(own.at(-1), 'console=ttyS1 panic=5');
});

test('random MACs are locally administered QEMU addresses', () => {
  assert.match(randomMac(), /^52:54:00(:[0-9a-f]{2}){3}$/);
});

test('a USB NIC hangs off an xHCI controller and cannot be network-booted by the firmware', () => {
  const kernelBoot: QemuSpec = { ...base, boot: { kind: 'kernel', kernel: '/k', initrd: '/i', append: 'quiet' }, nic: { tap: 'tap2', model: 'usb-net', mac: '52:54:00:00:00:02', optionRom: true } };
  const args = qemuArgs(kernelBoot);
  const xhci = args.indexOf('qemu-xhci,id=xhci');
  assert.ok(xhci > 0, 'xHCI controller present');
  assert.equal(args[xhci + 2], 'usb-net,bus=xhci.0,netdev=net0,mac=52:54:00:00:00:02');
  assert.throws(() => qemuArgs({ ...kernelBoot, boot: { kind: 'network' } }), /Cannot network-boot through usb-net/);
});

test('a NIC on another netdev backend (the lab VLAN port\'s UDP socket) gets id net0 and no tap', () => {
  const args = qemuArgs({ ...base, boot: { kind: 'kernel', kernel: '/k' }, nic: { ...base.nic!, netdev: 'socket,udp=127.0.0.1:47000,localaddr=127.0.0.1:47001' } });
  const i = args.indexOf('-netdev');
  assert.equal(args[i + 1], 'socket,id=net0,udp=127.0.0.1:47000,localaddr=127.0.0.1:47001');
  assert.ok(!args.some((a) => a.includes('ifname=')));
});
