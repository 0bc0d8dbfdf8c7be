import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type QemuSpec, qemuArgs, qemuBinary, randomMac, uefiFlash } from './qemu-args.js';

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

test('OVMF with Secure Boot enforced: q35 with SMM, secure flash, the secboot code and Microsoft-keyed variables', () => {
  const args = qemuArgs({ ...base, firmware: 'uefi-secure-boot', uefiVarsPath: '/tmp/vars.fd', nic: { ...base.nic!, optionRom: false } });
  assert.deepEqual(args.slice(0, 4), ['-machine', 'q35,graphics=off,smm=on', '-global', 'driver=cfi.pflash01,property=secure,value=on']);
  assert.ok(args.includes('if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd'));
  assert.ok(args.includes('if=pflash,format=raw,unit=1,file=/tmp/vars.fd'));
  assert.equal(uefiFlash('uefi-secure-boot').vars, '/usr/share/OVMF/OVMF_VARS_4M.ms.fd');
  assert.throws(() => qemuArgs({ ...base, machine: 'pc', firmware: 'uefi-secure-boot', uefiVarsPath: '/tmp/v' }), /SMM-protected variables need q35/);
});

test('UEFI HTTP boot only: PXE turned off through fw_cfg; refused for BIOS', () => {
  const args = qemuArgs({ ...base, firmware: 'uefi', uefiVarsPath: '/tmp/vars.fd', uefiNetBoot: 'http', nic: { ...base.nic!, optionRom: false } });
  const fwCfg = args.flatMap((a, i) => (a === '-fw_cfg' ? [args[i + 1]] : []));
  assert.deepEqual(fwCfg, ['name=opt/org.tianocore/IPv4PXESupport,string=n', 'name=opt/org.tianocore/IPv6PXESupport,string=n']);
  assert.throws(() => qemuArgs({ ...base, uefiNetBoot: 'http' }), /BIOS/);
});

test('AAVMF: the virt machine with a Cortex-A57, AAVMF flash, no -boot, a kernel console on ttyAMA0', () => {
  assert.equal(qemuBinary('aavmf'), 'qemu-system-aarch64');
  assert.equal(qemuBinary('uefi'), 'qemu-system-x86_64');
  const args = qemuArgs({ ...base, firmware: 'aavmf', uefiVarsPath: '/tmp/vars.fd', nic: { ...base.nic!, optionRom: false } });
  assert.deepEqual(args.slice(0, 4), ['-machine', 'virt', '-cpu', 'cortex-a57']);
  assert.ok(args.includes('if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd'));
  assert.ok(!args.includes('-boot'));
  const direct = qemuArgs({ ...base, firmware: 'aavmf', uefiVarsPath: '/tmp/vars.fd', boot: { kind: 'kernel', kernel: '/k' } });
  assert.equal(direct[direct.indexOf('-append') + 1], 'console=ttyAMA0 panic=-1');
});
