import type { DisklessConfig } from '../config/types.js';
import { DEFAULT_DHCP_PORTS, type DhcpNode, type DhcpServiceSettings, type DhcpSettings, type LoaderChoice } from './settings.js';
import { nodeByMac, nodeForMachine, nodeKey } from '../boot/boot-target.js';
import type { SwitchPort } from '../net/switch-port.js';
import { bootScriptPath, bootUrl, httpBaseUrl, IPXE_EFI_X64, SHIM_ARM64, SHIM_X64 } from '../boot/urls.js';

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
      bootFiles: { bios: 'undionly.kpxe', efi64: IPXE_EFI_X64, pxelinux: 'pxelinux.0', shimX64: SHIM_X64, shimArm64: SHIM_ARM64 },
      ipxeScriptUrl: (mac) => bootUrl(base, bootScriptPath(mac)),
      httpBootUrl: (arch, loader) => bootUrl(base, loader === 'grub' ? (arch === 'efi-x64' ? SHIM_X64 : SHIM_ARM64) : IPXE_EFI_X64),
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

/**
 * The DHCP service's view of the inventory: the node a machine is, by its MAC or by the switch
 * port it is on: the one a trusted relay reports in this very request, else, for a request in
 * a subnet behind relays (a renewal straight to the server carries no option 82), the one
 * last recorded for the machine.
 */
export function dhcpNodeLookup(config: () => DisklessConfig, portOf: (mac: string) => SwitchPort | undefined = () => undefined): (mac: string, port?: SwitchPort, recalled?: boolean) => DhcpNode | undefined {
  return (mac, port, recalled) => {
    const cfg = config();
    const node = nodeForMachine(cfg, mac, port ?? (recalled ? portOf(mac) : undefined));
    if (!node) return undefined;
    const profile = cfg.profiles.get(node.profile);
    return {
      mac,
      loader: node.loader ?? profile?.loader ?? 'ipxe',
      secureBoot: profile?.secureBoot ?? false,
      ...(profile ? { profile: profile.name } : {}),
      ...(profile?.kernelArch !== undefined ? { kernelArch: profile.kernelArch } : {}),
      ...(node.hostname !== undefined ? { hostname: node.hostname } : {}),
      ...(node.address !== undefined ? { address: node.address } : {}),
      key: nodeKey(node),
    };
  };
}

/** The default profile's loader: what a machine outside the inventory boots with under `allow`. */
export function dhcpDefaultLoader(config: () => DisklessConfig): () => LoaderChoice | undefined {
  return () => {
    const cfg = config();
    const profile = cfg.defaultProfile === undefined ? undefined : cfg.profiles.get(cfg.defaultProfile);
    return profile === undefined ? undefined : { loader: profile.loader, secureBoot: profile.secureBoot, profile: profile.name, ...(profile.kernelArch !== undefined ? { kernelArch: profile.kernelArch } : {}) };
  };
}
