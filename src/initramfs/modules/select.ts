import type { RootMode } from '../../config/types.js';
import { lookupModule, type ResolvedModules, resolveModules } from './resolve.js';
import type { ModuleTree } from './tree.js';

/**
 * Which modules a network-boot initramfs carries. One archive for every machine, one size fits
 * all: by default every driver that can bring up a wired link the firmware could
 * have netbooted from, and /init coldplugs whatever hardware it finds.
 */

/** What every root needs: the squashfs image (on a loop device for live roots) and the overlay. */
export const BOOT_MODULES = ['squashfs', 'loop', 'overlay'] as const;

/**
 * What one root mode needs beyond BOOT_MODULES. Taken when the kernel has them and required only
 * where a profile boots that mode (Red Hat's kernels ship no nbd.ko): the boot tree refuses a
 * profile whose image's initrd lacks its mode, and /init says so too.
 */
export const ROOT_MODE_MODULES: Readonly<Record<Exclude<RootMode, 'live'>, readonly string[]>> = {
  nbd: ['nbd'],
  nfs: ['nfs', 'nfsv4'],
};

/**
 * Wanted when the kernel has them, modular or built in: NFSv3; a local disk (ext4 on virtio,
 * SATA/AHCI, SCSI/SAS or NVMe disks; the swap and scratch a profile's disk: puts there); and
 * the boot link's VLAN and bonding drivers (a profile's network:).
 */
export const OPTIONAL_BOOT_MODULES = ['nfsv3', 'af_packet', 'ext4', 'virtio_blk', 'ahci', 'sd_mod', 'nvme', '8021q', 'bonding'] as const;

/**
 * virtio devices appear only once a transport has probed the PCI (or MMIO) device, so
 * virtio_net alone sees no interface.
 */
export const VIRTIO_TRANSPORTS = ['virtio', 'virtio_ring', 'virtio_pci', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_mmio'] as const;

/** A USB network adapter needs the host controller it hangs off; Debian builds them as modules. */
export const USB_HOST_CONTROLLERS = ['xhci_pci', 'ehci_pci', 'ohci_pci', 'uhci_hcd'] as const;

const NET_DRIVERS_DIR = 'kernel/drivers/net/';

/**
 * Sub-trees of drivers/net that are not a wired link a machine could have netbooted from:
 * radios (wireless, wwan, 802.15.4, ham, CAN), serial-line and legacy media (ppp, slip, plip,
 * wan, arcnet, fddi, hippi, appletalk), and virtual devices that stack on a real NIC (bonding,
 * team, vxlan, ipvlan, wireguard) or belong to a hypervisor host (xen-netback). Ethernet, PHY,
 * MDIO and PCS libraries, virtio, vmxnet3, hyperv, xen-netfront and USB Ethernet stay.
 */
const EXCLUDED_DIRS = [
  'appletalk', 'arcnet', 'bonding', 'caif', 'can', 'fddi', 'hamradio', 'hippi', 'ieee802154', 'ipvlan',
  'netdevsim', 'plip', 'ppp', 'slip', 'team', 'vxlan', 'wan', 'wireguard', 'wireless', 'wwan', 'xen-netback',
];

/** Virtual devices and non-Ethernet links that sit directly in drivers/net or drivers/net/usb. */
const EXCLUDED_MODULES = new Set([
  'amt', 'bareudp', 'dummy', 'eql', 'geneve', 'gtp', 'ifb', 'macsec', 'macvlan', 'macvtap', 'mhi_net',
  'netconsole', 'nlmon', 'sb1000', 'tap', 'thunderbolt_net', 'tun', 'veth', 'vrf', 'vsockmon',
  // USB modems and phone tethering: a data link behind a SIM or a phone, never a PXE boot path.
  'cdc_mbim', 'cdc_phonet', 'cx82310_eth', 'hso', 'huawei_cdc_ncm', 'ipheth', 'kalmia', 'lg_vl600', 'qmi_wwan', 'sierra_net',
]);

export function isNetworkDriver(path: string, name: string): boolean {
  if (!path.startsWith(NET_DRIVERS_DIR)) return false;
  const sub = path.slice(NET_DRIVERS_DIR.length);
  if (EXCLUDED_DIRS.some((d) => sub.startsWith(`${d}/`))) return false;
  return !EXCLUDED_MODULES.has(name);
}

/** Every network driver of the tree, sorted by name. */
export function networkDriverNames(tree: ModuleTree): string[] {
  return [...tree.modules.values()]
    .filter((m) => isNetworkDriver(m.path, m.name))
    .map((m) => m.name)
    .sort();
}

export interface ModuleSelectionOptions {
  /** NIC drivers to carry; undefined means every network driver of the kernel. */
  drivers?: readonly string[] | undefined;
  extraModules?: readonly string[] | undefined;
  /** Root modes whose modules must be there (an error otherwise); the others' are taken when present. */
  requireRootModes?: readonly RootMode[] | undefined;
}

/** The root modes an initramfs with these modules (files and built-ins) can attach. */
export function supportedRootModes(has: (name: string) => boolean): RootMode[] {
  const modes: RootMode[] = ['live'];
  for (const [mode, names] of Object.entries(ROOT_MODE_MODULES) as Array<[Exclude<RootMode, 'live'>, readonly string[]]>) {
    if (names.every(has)) modes.push(mode);
  }
  return modes;
}

/**
 * The modules of a network-boot initramfs. Names the caller asked for (drivers, extra modules)
 * and BOOT_MODULES must exist; the rest is taken when present.
 */
export function selectBootModules(tree: ModuleTree, options: ModuleSelectionOptions = {}): ResolvedModules {
  const required = [...(options.drivers ?? []), ...BOOT_MODULES, ...(options.extraModules ?? [])];
  const modeModules: string[] = [];
  for (const [mode, names] of Object.entries(ROOT_MODE_MODULES) as Array<[RootMode, readonly string[]]>) {
    if (options.requireRootModes?.includes(mode)) required.push(...names);
    else modeModules.push(...names);
  }
  const optional: string[] = [...(options.drivers === undefined ? networkDriverNames(tree) : []), ...modeModules, ...OPTIONAL_BOOT_MODULES];
  const first = resolveModules(tree, required, { optional });
  const names = new Set(first.modules.map((m) => m.name));
  // The core may be built in (Debian's arm64 kernel has virtio and virtio_ring built in, its
  // virtio_pci a module): then the drivers that need it are what says the transports are needed.
  const virtio = names.has('virtio') || (tree.builtin.has('virtio') && [...names].some((n) => n.startsWith('virtio_')));
  const companions = [
    ...(virtio ? VIRTIO_TRANSPORTS : []),
    ...(names.has('usbcore') ? USB_HOST_CONTROLLERS : []),
  ].filter((c) => !names.has(c));
  const result = companions.length === 0 ? first : resolveModules(tree, required, { optional: [...optional, ...companions] });
  // A mode the kernel cannot do is said once, in its own words, not as "cannot find nbd".
  for (const [mode, modNames] of Object.entries(ROOT_MODE_MODULES)) {
    const missing = modNames.filter((n) => lookupModule(tree, n).kind === 'unknown');
    if (missing.length === 0 || options.requireRootModes?.includes(mode as RootMode)) continue;
    result.warnings = result.warnings.filter((w) => !missing.some((n) => w.startsWith(`Cannot find kernel module "${n}" `)));
    result.warnings.push(`kernel ${tree.kernelVersion} has no ${missing.join(', ')} module: this initrd cannot attach ${mode.toUpperCase()} roots (a profile with root mode ${mode} refuses it)`);
  }
  return result;
}
