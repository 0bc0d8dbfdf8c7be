import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listKernelVersions } from '../kernel-version.js';
import { isNetworkDriver, networkDriverNames, selectBootModules } from './select.js';
import { loadModuleTree } from './tree.js';

const hostVersion = (await listKernelVersions('/'))[0];
const skip = hostVersion === undefined ? 'needs a kernel under /lib/modules (linux-image-amd64)' : false;

test('network drivers: wired NICs stay, radios, CAN and virtual devices go', () => {
  const yes = ['kernel/drivers/net/ethernet/intel/e1000/e1000.ko', 'kernel/drivers/net/virtio_net.ko', 'kernel/drivers/net/vmxnet3/vmxnet3.ko',
    'kernel/drivers/net/hyperv/hv_netvsc.ko', 'kernel/drivers/net/xen-netfront.ko', 'kernel/drivers/net/usb/r8152.ko', 'kernel/drivers/net/phy/realtek.ko'];
  const no = ['kernel/drivers/net/wireless/intel/iwlwifi/iwlwifi.ko', 'kernel/drivers/net/can/vcan.ko', 'kernel/drivers/net/wwan/wwan_hwsim.ko',
    'kernel/drivers/net/tun.ko', 'kernel/drivers/net/bonding/bonding.ko', 'kernel/drivers/net/usb/qmi_wwan.ko', 'kernel/drivers/net/xen-netback/xen-netback.ko',
    'kernel/fs/nfs/nfs.ko'];
  const name = (p: string): string => p.slice(p.lastIndexOf('/') + 1).replace(/\.ko$/, '').replace(/-/g, '_');
  for (const p of yes) assert.equal(isNetworkDriver(p, name(p)), true, p);
  for (const p of no) assert.equal(isNetworkDriver(p, name(p)), false, p);
});

test('the default selection carries every NIC driver, the virtio and USB transports and the boot modules', { skip }, async () => {
  const tree = await loadModuleTree('/', hostVersion!);
  const all = selectBootModules(tree);
  const names = new Set(all.modules.map((m) => m.name));
  assert.deepEqual(all.errors, []);
  for (const n of [...networkDriverNames(tree), 'virtio_pci', 'virtio_mmio', 'xhci_pci', 'squashfs', 'loop', 'overlay', 'nbd', 'nfs', 'nfsv4']) {
    assert.ok(names.has(n), n);
  }
  // A local disk (ext4 on virtio, SATA, SCSI, NVMe) and a bonded or VLAN boot link.
  for (const n of ['ext4', 'virtio_blk', 'ahci', 'sd_mod', 'nvme', '8021q', 'bonding']) assert.ok(names.has(n), n);
  assert.ok(!names.has('iwlwifi') && !names.has('vcan') && !names.has('team'));

  const two = selectBootModules(tree, { drivers: ['e1000', 'virtio-net'] });
  const twoNames = two.modules.map((m) => m.name);
  for (const n of ['e1000', 'virtio_net', 'virtio_pci', 'nfsv4', 'nbd']) assert.ok(twoNames.includes(n), n);
  assert.ok(!twoNames.includes('r8169') && !twoNames.includes('xhci_pci'));

  const bad = selectBootModules(tree, { drivers: ['e1000x'] });
  assert.match(bad.errors[0]!, /^Cannot find kernel module "e1000x" for kernel .*\(did you mean e1000/);
});

test('virtio built into the kernel (Debian arm64): a virtio driver still brings the transports, which are modules', async () => {
  const { mkdtemp, mkdir, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const root = await mkdtemp(join(tmpdir(), 'select-virtio-'));
  try {
    const dir = join(root, 'lib/modules/6.1.0-57-arm64');
    await mkdir(dir, { recursive: true });
    const dep = [
      'kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko',
      'kernel/drivers/net/net_failover.ko:',
      'kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko',
      'kernel/drivers/virtio/virtio_pci_modern_dev.ko:',
      'kernel/drivers/virtio/virtio_mmio.ko:',
      'kernel/fs/squashfs/squashfs.ko:',
      'kernel/drivers/block/loop.ko:',
      'kernel/fs/overlayfs/overlay.ko:',
    ];
    await writeFile(join(dir, 'modules.dep'), `${dep.join('\n')}\n`);
    await writeFile(join(dir, 'modules.order'), dep.map((l) => l.slice(0, l.indexOf(':'))).join('\n') + '\n');
    await writeFile(join(dir, 'modules.builtin'), 'kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n');
    await writeFile(join(dir, 'modules.alias'), 'alias virtio:d00000001v* virtio_net\nalias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n');
    const tree = await loadModuleTree(root, '6.1.0-57-arm64');
    const names = selectBootModules(tree, { drivers: ['virtio_net'] }).modules.map((m) => m.name);
    for (const n of ['virtio_net', 'virtio_pci', 'virtio_pci_modern_dev', 'virtio_mmio']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
