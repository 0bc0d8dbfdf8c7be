import type { DisklessConfig } from '../config/types.js';
import { DEFAULT_DHCP_PORTS, type DhcpNode, type DhcpServiceSettings, type DhcpSettings } from './settings.js';
import { nodeByMac } from '../boot/boot-target.js';
import { bootScriptPath, bootUrl, httpBaseUrl } from '../boot/urls.js';

/**
 * The DHCP service's view of the config: one DhcpSettings per subnet, each with its own boot
 * server address in every URL it hands out, and the interfaces to listen on (server.interface
 * and each subnet's).
 */
export function dhcpSettingsFromConfig(config: DisklessConfig, ports: DhcpSettings['ports'] = DEFAULT_DHCP_PORTS): DhcpServiceSettings {
  const { dhcp, server } = config;
  if (dhcp.mode === 'off') throw new Error('Cannot build DHCP settings: dhcp.mode is off');
  const subnets = dhcp.subnets.map((s): DhcpSettings => {
    const base = httpBaseUrl({ address: s.serverAddress, httpPort: server.httpPort });
    return {
      mode: s.mode,
      serverAddress: s.serverAddress,
      network: s.network,
      name: s.name,
      attached: s.attached,
      subnetMask: s.mask,
      routers: s.routers,
      dnsServers: s.dns,
      leaseTimeSec: s.leaseTimeSec,
      unknownClients: dhcp.unknownClients,
      bootFiles: { bios: 'undionly.kpxe', efi64: 'ipxe.efi', efiArm64: 'ipxe-arm64.efi', pxelinux: 'pxelinux.0' },
      ipxeScriptUrl: (mac) => bootUrl(base, bootScriptPath(mac)),
      httpBootUrl: (arch) => bootUrl(base, arch === 'efi-x64' ? 'ipxe.efi' : 'ipxe-arm64.efi'),
      ports,
      ...(s.interface !== undefined ? { interfaceName: s.interface } : {}),
      ...(s.pool ? { pool: s.pool } : {}),
      ...(s.domain !== undefined ? { domainName: s.domain } : {}),
      ...(s.broadcast !== undefined ? { broadcastAddress: s.broadcast } : {}),
      ...(dhcp.rootPath !== undefined ? { rootPath: dhcp.rootPath } : {}),
    };
  });
  const interfaces = [...new Set([server.interface, ...dhcp.subnets.map((s) => s.interface)].filter((i): i is string => i !== undefined))];
  return { subnets, interfaces, ports };
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
