import type { DisklessConfig } from '../config/types.js';
import { DEFAULT_DHCP_PORTS, type DhcpNode, type DhcpSettings, type LoaderChoice } from './settings.js';
import { nodeByMac } from '../boot/boot-target.js';
import { bootScriptPath, bootUrl, httpBaseUrl, IPXE_EFI_X64, SHIM_ARM64, SHIM_X64 } from '../boot/urls.js';

/** The DHCP service's view of the inventory. */
export function dhcpSettingsFromConfig(config: DisklessConfig, ports: DhcpSettings['ports'] = DEFAULT_DHCP_PORTS): DhcpSettings {
  const { dhcp, server } = config;
  if (dhcp.mode === 'off') throw new Error('Cannot build DHCP settings: dhcp.mode is off');
  const base = httpBaseUrl(server);
  return {
    mode: dhcp.mode,
    serverAddress: server.address,
    subnetMask: dhcp.subnetMask,
    routers: dhcp.routers,
    dnsServers: dhcp.dns,
    leaseTimeSec: dhcp.leaseTimeSec,
    unknownClients: dhcp.unknownClients,
    bootFiles: { bios: 'undionly.kpxe', efi64: IPXE_EFI_X64, pxelinux: 'pxelinux.0', shimX64: SHIM_X64, shimArm64: SHIM_ARM64 },
    ipxeScriptUrl: (mac) => bootUrl(base, bootScriptPath(mac)),
    httpBootUrl: (arch, loader) => bootUrl(base, loader === 'grub' ? (arch === 'efi-x64' ? SHIM_X64 : SHIM_ARM64) : IPXE_EFI_X64),
    ports,
    ...(server.interface !== undefined ? { interfaceName: server.interface } : {}),
    ...(dhcp.pool ? { pool: dhcp.pool } : {}),
    ...(dhcp.domain !== undefined ? { domainName: dhcp.domain } : {}),
    ...(dhcp.broadcast !== undefined ? { broadcastAddress: dhcp.broadcast } : {}),
    ...(dhcp.rootPath !== undefined ? { rootPath: dhcp.rootPath } : {}),
  };
}

export function dhcpNodeLookup(config: () => DisklessConfig): (mac: string) => DhcpNode | undefined {
  return (mac) => {
    const cfg = config();
    const node = nodeByMac(cfg, mac);
    if (!node) return undefined;
    const profile = cfg.profiles.get(node.profile);
    return {
      mac: node.mac,
      loader: node.loader ?? profile?.loader ?? 'ipxe',
      secureBoot: profile?.secureBoot ?? false,
      ...(node.hostname !== undefined ? { hostname: node.hostname } : {}),
      ...(node.address !== undefined ? { address: node.address } : {}),
    };
  };
}

/** The default profile's loader: what a machine outside the inventory boots with under `allow`. */
export function dhcpDefaultLoader(config: () => DisklessConfig): () => LoaderChoice | undefined {
  return () => {
    const cfg = config();
    const profile = cfg.defaultProfile === undefined ? undefined : cfg.profiles.get(cfg.defaultProfile);
    return profile === undefined ? undefined : { loader: profile.loader, secureBoot: profile.secureBoot };
  };
}
