import type { KernelArch } from '../config/kernel-arch.js';
import type { Loader } from '../config/types.js';

/**
 * What DHCP answers on one subnet (the policy's whole view of it); built from the declarative
 * config by the app layer.
 */
export interface DhcpSettings {
  mode: 'full' | 'proxy';
  /** The boot server's address for this subnet: option 54, siaddr, option 66. */
  serverAddress: string;
  /** The subnet's network address ("10.2.0.0"); with subnetMask, what belongs to it. */
  network: string;
  /** "10.2.0.0/24", for log lines. */
  name?: string;
  /** The server's interface on this subnet's link; unrelayed requests arriving there belong here. */
  interfaceName?: string;
  /**
   * Whether unrelayed requests may belong here at all: a subnet with an interface, or the
   * single-pool form's (the server's own link, heard on every interface when none is named).
   * A subnet reached only through relays is not.
   */
  attached?: boolean;
  pool?: { start: string; end: string };
  subnetMask: string;
  routers: string[];
  dnsServers: string[];
  domainName?: string;
  broadcastAddress?: string;
  leaseTimeSec: number;
  rootPath?: string;
  /** register answers unknown clients like allow; only their boot script differs. */
  unknownClients: 'allow' | 'deny' | 'register';
  /**
   * TFTP names: iPXE for BIOS and x64 UEFI, pxelinux, and the shims that start the signed
   * chain (shim then loads grubx64.efi or grubaa64.efi from the same directory).
   */
  bootFiles: { bios: string; efi64: string; pxelinux: string; shimX64: string; shimArm64: string };
  ipxeScriptUrl: (mac: string) => string;
  /** The URL UEFI HTTP boot firmware is handed: the iPXE binary, or the shim of the signed chain. */
  httpBootUrl: (arch: 'efi-x64' | 'efi-arm64', loader: 'ipxe' | 'grub') => string;
  /** 67, 68, 4011 by default; tests use high ports. */
  ports: { server: number; client: number; proxy: number };
}

/** What the DHCP service serves: its subnets and where it listens. */
export interface DhcpServiceSettings {
  subnets: readonly DhcpSettings[];
  /**
   * One socket per interface (SO_BINDTOIFINDEX), so each request is known by the link it
   * arrived on; none: one socket on every interface, which tells no link from another.
   */
  interfaces: readonly string[];
  /** 67, 68, 4011 by default; tests use high ports. */
  ports: { server: number; client: number; proxy: number };
}

/** One subnet served on its own (tests, and the single-pool form). */
export function singleSubnet(settings: DhcpSettings): DhcpServiceSettings {
  return {
    subnets: [{ attached: true, ...settings }],
    interfaces: settings.interfaceName === undefined ? [] : [settings.interfaceName],
    ports: settings.ports,
  };
}

/** Which loader a machine's profile (and node entry) asks for. */
export interface LoaderChoice {
  loader: Loader;
  /** UEFI machines get the signed chain whatever `loader` says. */
  secureBoot: boolean;
  /** The profile's name, for messages. */
  profile?: string;
  /** The architecture of the profile's kernel file, when it has one that could be read. */
  kernelArch?: KernelArch;
}

/** The inventory's view of one machine, as far as DHCP cares. */
export interface DhcpNode extends LoaderChoice {
  /** The machine's MAC (chaddr). */
  mac: string;
  /**
   * The node's identity (nodeKey: its inventory MAC, or "host:NAME"), which may differ from
   * the machine's MAC when the node is found by its switch port. Leases carry it, so a node's
   * reservation follows it onto a new mainboard while the old one's lease still runs.
   */
  key?: string;
  hostname?: string;
  /** A fixed reservation; honoured even outside the pool. */
  address?: string;
}

export const DEFAULT_DHCP_PORTS = { server: 67, client: 68, proxy: 4011 } as const;
