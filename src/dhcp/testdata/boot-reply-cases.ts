// The DHCP answers each kind of firmware gets per loader, as decided from a real config: the
// inputs of the golden-byte test (boot-replies.test.ts; the bytes are in boot-replies.ts).
import { parseConfig } from '../../config/load.js';
import { dhcpNodeLookup, dhcpSettingsFromConfig } from '../settings-from-config.js';
import type { DhcpPolicyInput } from '../policy-types.js';
import type { DhcpNode } from '../settings.js';
import { decodeDhcpPacket, type DhcpPacket } from '../../protocols/dhcp/packet.js';
import { ovmfPxeDiscover, OVMF_PXE_MAC } from '../../protocols/dhcp/testdata/ovmf-pxe-discover.js';
import { uefiHttpDiscover, UEFI_HTTP_MAC } from '../../protocols/dhcp/testdata/uefi-http-discover.js';
import { aavmfPxeDiscover, AAVMF_PXE_MAC } from '../../protocols/dhcp/testdata/aavmf-pxe-discover.js';
import { aavmfHttpDiscover, AAVMF_HTTP_MAC } from '../../protocols/dhcp/testdata/aavmf-http-discover.js';
import { ipxeBiosDiscover, IPXE_BIOS_MAC } from '../../protocols/dhcp/testdata/ipxe-bios-discover.js';
import { clientPacket } from '../../protocols/dhcp/testdata/client-packets.js';
import { DhcpMessageType } from '../../protocols/dhcp/message-types.js';

const CONFIG = parseConfig(`server: { address: 10.77.0.1, state_dir: /nonexistent }
dhcp: { mode: full, pool: 10.77.0.100-10.77.0.150, routers: [10.77.0.1], dns: [10.77.0.1], domain: lab.test }
profiles:
  default: { kernel: /boot/vmlinuz }
`, '/etc/diskless/diskless.yaml');

// One inventory for a mixed fleet: each machine's answer follows from its own entry and
// profile, and the firmware's architecture (DHCP option 93) picks the loader file.
const MIXED = parseConfig(`server:
  address: 10.77.0.1
  state_dir: /nonexistent
  signed_boot: { arm64: { shim: /srv/arm64/shimaa64.efi.signed, grub: /srv/arm64/grubnetaa64.efi.signed } }
dhcp: { mode: full, pool: 10.77.0.100-10.77.0.150, routers: [10.77.0.1], dns: [10.77.0.1], domain: lab.test }
profiles:
  x86: { kernel: /boot/vmlinuz }
  arm64: { kernel: /srv/arm64/vmlinuz, loader: grub, cmdline: console=ttyAMA0 }
nodes:
  - { mac: "${IPXE_BIOS_MAC}", hostname: x1, address: 10.77.0.21, profile: x86 }
  - { mac: "${OVMF_PXE_MAC}", hostname: x2, address: 10.77.0.22, profile: x86 }
  - { mac: "${AAVMF_PXE_MAC}", hostname: a1, address: 10.77.0.31, profile: arm64 }
`, '/etc/diskless/diskless.yaml');
const listed = (mac: string): DhcpNode => dhcpNodeLookup(() => MIXED)(mac)!;
const mixed = (p: Uint8Array, mac: string) => () => ({
  packet: packet(p),
  port: 'server' as const,
  settings: dhcpSettingsFromConfig(MIXED).subnets[0]!,
  node: listed(mac),
});

const packet = (bytes: Uint8Array): DhcpPacket => {
  const r = decodeDhcpPacket(bytes);
  if (!r.ok) throw new Error(`bad fixture: ${r.error}`);
  return r.packet;
};

const node = (mac: string, loader: DhcpNode['loader'], secureBoot = false): DhcpNode => ({ mac, hostname: 'n1', address: '10.77.0.11', loader, secureBoot });

export interface BootReplyCase {
  name: string;
  input: () => Omit<DhcpPolicyInput, 'leases'>;
}

const full = (p: Uint8Array | DhcpPacket, n: DhcpNode | undefined, extra: Partial<DhcpPolicyInput> = {}) => () => ({
  packet: p instanceof Uint8Array ? packet(p) : p,
  port: 'server' as const,
  settings: dhcpSettingsFromConfig(CONFIG).subnets[0]!,
  node: n,
  ...extra,
});

const proxy = (p: Uint8Array, n: DhcpNode | undefined) => () => ({
  packet: packet(p),
  port: 'server' as const,
  settings: { ...dhcpSettingsFromConfig(CONFIG).subnets[0]!, mode: 'proxy' as const },
  node: n,
});

export const BOOT_REPLY_CASES: readonly BootReplyCase[] = [
  { name: 'one inventory, x86 profile, BIOS iPXE: its iPXE script', input: mixed(ipxeBiosDiscover, IPXE_BIOS_MAC) },
  { name: 'one inventory, x86 profile, x64 UEFI PXE: ipxe.efi', input: mixed(ovmfPxeDiscover, OVMF_PXE_MAC) },
  { name: 'one inventory, arm64 profile (loader grub), arm64 UEFI PXE (AAVMF, arch 11): shimaa64.efi', input: mixed(aavmfPxeDiscover, AAVMF_PXE_MAC) },
  { name: 'x64 UEFI PXE, loader ipxe: ipxe.efi', input: full(ovmfPxeDiscover, node(OVMF_PXE_MAC, 'ipxe')) },
  { name: 'x64 UEFI PXE, loader grub: shimx64.efi', input: full(ovmfPxeDiscover, node(OVMF_PXE_MAC, 'grub')) },
  { name: 'x64 UEFI PXE, secure_boot with loader ipxe: shimx64.efi', input: full(ovmfPxeDiscover, node(OVMF_PXE_MAC, 'ipxe', true)) },
  { name: 'x64 UEFI PXE, proxyDHCP, loader grub: shimx64.efi', input: proxy(ovmfPxeDiscover, node(OVMF_PXE_MAC, 'grub')) },
  {
    name: 'x64 UEFI PXE, unknown machine, default profile with secure_boot: shimx64.efi',
    input: full(ovmfPxeDiscover, undefined, { unknownLoader: { loader: 'ipxe', secureBoot: true } }),
  },
  { name: 'x64 UEFI HTTP boot, loader ipxe: the ipxe.efi URL', input: full(uefiHttpDiscover, node(UEFI_HTTP_MAC, 'ipxe')) },
  { name: 'x64 UEFI HTTP boot, loader grub: the shimx64.efi URL', input: full(uefiHttpDiscover, node(UEFI_HTTP_MAC, 'grub')) },
  { name: 'arm64 UEFI PXE (AAVMF), loader ipxe: shimaa64.efi, there is no arm64 iPXE', input: full(aavmfPxeDiscover, node(AAVMF_PXE_MAC, 'ipxe')) },
  { name: 'arm64 UEFI PXE (AAVMF), proxyDHCP, loader grub: shimaa64.efi', input: proxy(aavmfPxeDiscover, node(AAVMF_PXE_MAC, 'grub')) },
  { name: 'arm64 UEFI HTTP boot (AAVMF), loader grub: the shimaa64.efi URL', input: full(aavmfHttpDiscover, node(AAVMF_HTTP_MAC, 'grub')) },
  { name: 'BIOS iPXE, loader grub: the iPXE script (the signed chain is UEFI-only)', input: full(ipxeBiosDiscover, node(IPXE_BIOS_MAC, 'grub', true)) },
  {
    name: 'BIOS PXE ROM, loader grub: undionly.kpxe',
    input: full(
      clientPacket({ type: DhcpMessageType.Discover, mac: '52:54:00:00:00:09', vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0, paramRequest: [1, 3, 6, 12, 15, 43, 60, 66, 67] }),
      node('52:54:00:00:00:09', 'grub', true),
    ),
  },
];
