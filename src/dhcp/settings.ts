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
  bootFiles: { bios: string; efi64: string; efiArm64: string; pxelinux: string };
  ipxeScriptUrl: (mac: string) => string;
  httpBootUrl: (arch: 'efi-x64' | 'efi-arm64') => string;
  /** 67, 68, 4011 by default; tests use high ports. */
  ports: { server: number; client: number; proxy: number };
}

/** The inventory's view of one machine, as far as DHCP cares. */
export interface DhcpNode {
  mac: string;
  hostname?: string;
  /** A fixed reservation; honoured even outside the pool. */
  address?: string;
  loader: 'ipxe' | 'pxelinux';
}

export const DEFAULT_DHCP_PORTS = { server: 67, client: 68, proxy: 4011 } as const;
