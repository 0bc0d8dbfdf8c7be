import type { DisklessConfig } from '../config/types.js';
import { DEFAULT_DHCP_PORTS, type DhcpNode, type DhcpSettings } from './settings.js';
import { nodeByMac } from '../boot/boot-target.js';
import { bootScriptPath, bootUrl, httpBaseUrl } from '../boot/urls.js';

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
    bootFiles: { bios: 'undionly.kpxe', efi64: 'ipxe.efi', efiArm64: 'ipxe-arm64.efi', pxelinux: 'pxelinux.0' },
    ipxeScriptUrl: (mac) => bootUrl(base, bootScriptPath(mac)),
    httpBootUrl: (arch) => bootUrl(base, arch === 'efi-x64' ? 'ipxe.efi' : 'ipxe-arm64.efi'),
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
    const loader = node.loader ?? cfg.profiles.get(node.profile)?.loader ?? 'ipxe';
    return {
      mac: node.mac,
      loader,
      ...(node.hostname !== undefined ? { hostname: node.hostname } : {}),
      ...(node.address !== undefined ? { address: node.address } : {}),
    };
  };
}
