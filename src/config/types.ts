import type { PowerConfig, PowerSettings } from './power.js';

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
  /** TFTP transfers served at once; further requests get ERROR 0 "Server busy". */
  maxTftpTransfers: number;
  /** TFTP transfers served at once to one client address; its further requests get "Server busy". */
  maxTftpTransfersPerPeer: number;
  /** NBD connections open at once; further ones are closed on accept. */
  maxNbdConnections: number;
  /** HTTP connections open at once; further ones are closed on accept. */
  maxHttpConnections: number;
  /** HTTP connections open at once from one address; further ones from it are closed on accept. */
  maxHttpConnectionsPerPeer: number;
  /** NBD connections open at once from one client address; its further ones are closed on accept. */
  maxNbdConnectionsPerPeer: number;
  /** Seconds a boot script's one-time secrets token stays valid. */
  tokenTtlSec: number;
  /** Seconds after a machine's PXE DHCP exchange during which its boot may fetch its secrets. */
  secretsWindowSec: number;
  /** HTTPS on `address`: node secrets, to initrds that carry this server's certificate. */
  httpsPort: number;
  /** PEM certificate and key of this server's TLS; made at first start when both are missing. */
  tlsCertFile: string;
  tlsKeyFile: string;
  /** Answer IPv6 Router Solicitations on `interface` with "no router" (iPXE stops waiting). */
  answerRouterSolicitations: boolean;
  /**
   * Who may mount the NFS roots this server exports: networks and addresses (CIDR), by default
   * the boot subnet; or `inventory`, the reserved addresses of the inventory's nodes.
   */
  nfsClients: string[] | 'inventory';
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
  unknownClients: UnknownClients;
}

/**
 * Machines not listed under nodes: `deny` ignores them, `allow` boots default_profile, `register`
 * gives them an address and a script that waits for `diskless node adopt`.
 */
export type UnknownClients = 'allow' | 'deny' | 'register';

export type RootMode = 'live' | 'nbd' | 'nfs';

/** Where a profile's root filesystem comes from; turned into root= and rd.* arguments. */
export interface RootConfig {
  mode: RootMode;
  /** squashfs image: fetched whole (live) or attached lazily (nbd). */
  image?: string;
  /** image tree: exported read-only over NFS (nfs). */
  dir?: string;
  /** nfs: the NFS version the node mounts with (4 by default; 3 needs rpcbind beside ganesha). */
  nfsVersion?: 3 | 4;
  /** nfs on an existing filer this server does not run: its IPv4 address and exported path. */
  nfsServer?: string;
  nfsPath?: string;
  /** live only: copy the whole tree into RAM instead of loop-mounting the image. */
  copy: boolean;
  overlay: 'tmpfs' | 'none';
  /** Seconds /init keeps retrying to attach the root. */
  retry: number;
}

/** A file placed on the node at boot, on top of the image (never baked into it). */
export interface FileSpec {
  /** Absolute path on the node. */
  path: string;
  mode: number;
  /** Inline text, or… */
  content?: string;
  /** …a file on the server, read at each boot. */
  source?: string;
  /** `{{hostname}}`-style placeholders are filled in per node. */
  template: boolean;
}

/** Which local disk a node uses: every given key must match (the first disk that does wins). */
export interface DiskMatch {
  /** /dev/NAME of the whole disk. */
  path?: string;
  /** Shell glob on the disk's model (/sys/block/X/device/model). */
  model?: string;
  /** Shell glob on its /dev/disk/by-id name (virtio-SERIAL, nvme-MODEL_SERIAL, ata-MODEL_SERIAL). */
  byId?: string;
  /** Size bounds in bytes (either may be absent). */
  minBytes?: number;
  maxBytes?: number;
}

/**
 * A node's local disk: one ext4 filesystem labelled "diskless" on the whole disk, made only on
 * a disk that carries nothing blkid knows (or is already ours); never on anything else.
 */
export interface DiskConfig {
  match: DiskMatch;
  /** The overlay's upper layer on the disk instead of RAM (emptied at every boot). */
  upper: boolean;
  /** A swap file of this many MiB on the disk; 0 for none. */
  swapMiB: number;
  /** Emptied at every boot and mounted here. */
  scratch?: string;
  /** Directories of the root kept on the disk across reboots. */
  persist: string[];
}

/**
 * The boot link as the initramfs builds it and hands it to the image's network manager: a bond
 * of several NICs and/or a VLAN on top (of the bond, or of the boot NIC).
 */
export interface NetworkConfig {
  bond?: {
    mode: 'active-backup' | '802.3ad';
    /** MAC addresses, or kernel interface name globs (eth*); the boot NIC goes first. */
    interfaces: string[];
  };
  /** 802.1Q VLAN id the node's address lives on. */
  vlan?: number;
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
  /** Local disk use; none: the node runs from RAM alone. */
  disk?: DiskConfig;
  /** A bonded or VLAN boot link; none: the boot NIC alone. */
  network?: NetworkConfig;
  files: FileSpec[];
  /** BMC settings its nodes share (user, password_file, port…); a node adds its own ipmi address. */
  power?: PowerSettings;
}

export interface NodeConfig {
  mac: string;
  hostname?: string;
  address?: string;
  profile: string;
  /** Appended to the profile's command line. */
  cmdline?: string;
  loader?: Loader;
  /** Replace the profile's files of the same path. */
  files?: FileSpec[];
  /** Replaces the profile's network: (bond members are per machine). */
  network?: NetworkConfig;
  /** Its BMC, resolved from its own `power:` over its profile's; none without an ipmi address. */
  power?: PowerConfig;
}

/** Who may use the API (/api/v1), the dashboard and /metrics, and where they listen. */
export interface ApiConfig {
  /** The admin listener: loopback by default (plain HTTP); any other address serves HTTPS. */
  address: string;
  port: number;
  /** Host names (besides the address, localhost and this host's name) the API answers to. */
  hostnames: string[];
  /** Holds the admin token that API writes need; made (random, 0600) at start when missing. */
  adminTokenFile: string;
  /** CIDRs allowed to read; default loopback plus server.address's own subnet. */
  readFrom: string[];
  /** Event streams (/api/v1/events/stream) open at once; further ones get 503. */
  maxEventStreams: number;
}

export interface DisklessConfig {
  /** Absolute path of the file this came from, for messages. */
  file: string;
  server: ServerConfig;
  dhcp: DhcpConfig;
  api: ApiConfig;
  profiles: Map<string, ProfileConfig>;
  nodes: NodeConfig[];
  /** Profile for machines not listed under nodes; none means unknown machines get no boot script. */
  defaultProfile?: string;
}
