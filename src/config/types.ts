/** The declarative inventory: one YAML file describes the server, DHCP, profiles and nodes. */
export type DhcpMode = 'full' | 'proxy' | 'off';
export type Loader = 'ipxe' | 'pxelinux';

export interface ServerConfig {
  /** The address nodes reach this server at (DHCP option 54, siaddr, URLs). */
  address: string;
  /** DHCP answers only on this interface. */
  interface?: string;
  httpPort: number;
  tftpPort: number;
  stateDir: string;
  /** Where iPXE binaries come from (Debian's `ipxe` package). */
  ipxeDir: string;
  /** Where pxelinux.0 and ldlinux.c32 come from (Debian's `pxelinux`, `syslinux-common`). */
  syslinuxDirs: string[];
  /** Optional directory of extra files served read-only by TFTP and HTTP. */
  tftpRoot?: string;
  nbdPort: number;
}

export interface DhcpConfig {
  mode: DhcpMode;
  pool?: { start: string; end: string };
  subnetMask: string;
  routers: string[];
  dns: string[];
  domain?: string;
  broadcast?: string;
  leaseTimeSec: number;
  rootPath?: string;
  unknownClients: 'allow' | 'deny';
}

export type RootMode = 'live' | 'nbd' | 'nfs';

/** Where a profile's root filesystem comes from; turned into root= and rd.* arguments. */
export interface RootConfig {
  mode: RootMode;
  /** squashfs image: fetched whole (live) or attached lazily (nbd). */
  image?: string;
  /** image tree: exported read-only over NFS (nfs). */
  dir?: string;
  /** live only: copy the whole tree into RAM instead of loop-mounting the image. */
  copy: boolean;
  overlay: 'tmpfs' | 'none';
  /** Seconds /init keeps retrying to attach the root. */
  retry: number;
}

export interface ProfileConfig {
  name: string;
  /** An image in the store (diskless image build): its published version's kernel, initrd and root. */
  image?: string;
  /** Empty when `image` supplies it. */
  kernel: string;
  initrds: string[];
  cmdline: string;
  loader: Loader;
  root?: RootConfig;
}

export interface NodeConfig {
  mac: string;
  hostname?: string;
  address?: string;
  profile: string;
  /** Appended to the profile's command line. */
  cmdline?: string;
  loader?: Loader;
}

export interface DisklessConfig {
  /** Absolute path of the file this came from, for messages. */
  file: string;
  server: ServerConfig;
  dhcp: DhcpConfig;
  profiles: Map<string, ProfileConfig>;
  nodes: NodeConfig[];
  /** Profile for machines not listed under nodes; none means unknown machines get no boot script. */
  defaultProfile?: string;
}
