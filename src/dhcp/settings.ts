import type { Loader } from '../config/types.js';

/** What the DHCP service needs to know; built from the declarative config by the app layer. */
export interface DhcpSettings {
  mode: 'full' | 'proxy';
  /** Option 54, siaddr, option 66. */
  serverAddress: string;
  /** Answer only on this interface. */
  interfaceName?: string;
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

/** Which loader a machine's profile (and node entry) asks for. */
export interface LoaderChoice {
  loader: Loader;
  /** UEFI machines get the signed chain whatever `loader` says. */
  secureBoot: boolean;
}

/** The inventory's view of one machine, as far as DHCP cares. */
export interface DhcpNode extends LoaderChoice {
  mac: string;
  hostname?: string;
  /** A fixed reservation; honoured even outside the pool. */
  address?: string;
}

export const DEFAULT_DHCP_PORTS = { server: 67, client: 68, proxy: 4011 } as const;
