import type { KernelArch } from './kernel-arch.js';
import type { PowerConfig, PowerSettings } from './power.js';

/** The declarative inventory: one YAML file describes the server, DHCP, profiles and nodes. */
import type { SwitchPort } from '../net/switch-port.js';

export type { SwitchPort } from '../net/switch-port.js';
export type DhcpMode = 'full' | 'proxy' | 'off';
/**
 * What a machine's firmware is handed: iPXE (BIOS and UEFI), pxelinux (BIOS), or the signed
 * chain shim → GRUB (UEFI x64 and arm64; the only one Secure Boot accepts).
 */
export type Loader = 'ipxe' | 'pxelinux' | 'grub';

export interface ServerConfig {
  /** The address nodes reach this server at (DHCP option 54, siaddr, URLs). */
  address: string;
  /**
   * DHCP listens on this interface (besides those of dhcp.subnets): the server's own link, and
   * where relays reach it. None anywhere: DHCP listens on every interface.
   */
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
  /**
   * Memory for blocks of served files (HTTP bodies, NBD reads), least recently used dropped
   * first; files bigger than half of it are read from disk each time. 0: no cache.
   */
  fileCacheBytes: number;
  /** Seconds a boot script's one-time secrets token stays valid. */
  tokenTtlSec: number;
  /** Seconds after a machine's PXE DHCP exchange during which its boot may fetch its secrets. */
  secretsWindowSec: number;
  /** HTTPS on `address`: node secrets, to initrds that carry this server's certificate. */
  httpsPort: number;
  /** PEM certificate and key of this server's TLS; made at first start when both are missing. */
  tlsCertFile: string;
  tlsKeyFile: string;
  /**
   * Answer IPv6 Router Solicitations with "no router" (iPXE stops waiting): `true` on `interface`,
   * `auto` on the boot link only when it is IPv4-only (decided at start by src/native/ra-policy.ts).
   */
  answerRouterSolicitations: 'auto' | boolean;
  /**
   * Who may mount the NFS roots this server exports: networks and addresses (CIDR), by default
   * the boot subnet; or `inventory`, the reserved addresses of the inventory's nodes.
   */
  nfsClients: string[] | 'inventory';
  /** The signed chain handed to UEFI machines with the grub loader, per architecture. */
  signedBoot: { x64: SignedChain; arm64: SignedChain };
}

/** A shim and the GRUB network image it loads (served as shimx64.efi/grubx64.efi, shimaa64.efi/grubaa64.efi). */
export interface SignedChain {
  shim: string;
  grub: string;
}

export interface DhcpConfig {
  /** off: no DHCP at all; otherwise the default mode of every subnet. */
  mode: DhcpMode;
  /**
   * The networks DHCP serves: `dhcp.subnets`, or the single-pool form (`pool`, `subnet_mask`,
   * … directly under `dhcp`) read as one subnet, the server's own. Kept when mode is off
   * (nothing serves them then; they still say which networks are the boot networks).
   */
  subnets: SubnetConfig[];
  /** The domain given where a subnet names none (nodes' `{{domain}}` and option 15). */
  domain?: string;
  rootPath?: string;
  unknownClients: UnknownClients;
}

/** One IPv4 network DHCP serves, on a link of the server's own or behind a DHCP relay. */
export interface SubnetConfig {
  /** Its network address and prefix, e.g. 10.2.0.0 and 24 (host bits zero). */
  network: string;
  prefix: number;
  /** The prefix as a netmask (option 1). */
  mask: string;
  /** "10.2.0.0/24", for messages and logs. */
  name: string;
  /**
   * The server's interface on this subnet's link: requests that arrive on it unrelayed belong
   * here. Without one the subnet is reached only through relays (giaddr in it), except in the
   * single-pool form, which serves the server's own link (server.interface, or every interface).
   */
  interface?: string;
  /** True when unrelayed requests may belong here: it has an interface, or is the single-pool form's. */
  attached: boolean;
  mode: 'full' | 'proxy';
  pool?: { start: string; end: string };
  routers: string[];
  dns: string[];
  domain?: string;
  broadcast?: string;
  leaseTimeSec: number;
  /**
   * The boot server's address for nodes of this subnet (option 54, siaddr, every URL and root
   * argument they are given): server.address unless the subnet names another of the host's
   * addresses.
   */
  serverAddress: string;
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

/**
 * One entry of a boot menu: the profile's own boot under another profile, its image at an
 * earlier stored version, or a rescue boot that stops in the initramfs shell.
 */
export type MenuEntry = {
  /** Letters, digits, "-" and "_": the label the loader's script uses for it. */
  name: string;
  /** What the menu shows; made from the entry when not given. */
  label?: string;
  /** One letter or digit that picks the entry at once; by default its position, 1 to 9. */
  key?: string;
} & ({ kind: 'profile'; profile: string } | { kind: 'version'; version: string } | { kind: 'rescue' });

/** A boot menu: shown by iPXE (and pxelinux's menu.c32) for `timeoutSec`, then `default` boots. */
export interface MenuConfig {
  timeoutSec: number;
  /** The name of the entry booted when the time runs out. */
  default: string;
  entries: MenuEntry[];
}

/**
 * What /init does when a stage fails: `shell` opens a root shell on the console (for people at
 * it); `reboot` and `poweroff` (rd.shell=0, for unattended fleets) upload the failure report to
 * the server, wait `failureDelaySec` and do that.
 */
export type FailureAction = 'shell' | 'reboot' | 'poweroff';

export interface ProfileConfig {
  name: string;
  /** An image in the store (diskless image build): its published version's kernel, initrd and root. */
  image?: string;
  /** Empty when `image` supplies it. */
  kernel: string;
  initrds: string[];
  cmdline: string;
  loader: Loader;
  /**
   * UEFI machines of this profile get shim → GRUB (whatever `loader` says, which then applies
   * to BIOS machines), and the kernel must carry a signature.
   */
  secureBoot: boolean;
  /**
   * The architecture of the kernel file (kernel-arch.ts), read at load; absent for a stored
   * image's kernel or a file that cannot be read. DHCP refuses a machine of another one.
   */
  kernelArch?: KernelArch;
  root?: RootConfig;
  /** Local disk use; none: the node runs from RAM alone. */
  disk?: DiskConfig;
  /** A bonded or VLAN boot link; none: the boot NIC alone. */
  network?: NetworkConfig;
  files: FileSpec[];
  /** BMC settings its nodes share (user, password_file, port…); a node adds its own ipmi address. */
  power?: PowerSettings;
  menu?: MenuConfig;
  /** Default shell. */
  onFailure?: FailureAction;
  /** Default 30 (DEFAULT_FAILURE_DELAY_SEC). */
  failureDelaySec?: number;
}

export interface NodeConfig {
  /**
   * The machine's MAC. A node with a `switchPort` may have none: any machine on that port is
   * the node (a replaced mainboard boots as the same node). Present or not, it names the
   * node's identity (nodeKey).
   */
  mac?: string;
  /** Where the node is plugged in, as its DHCP relay reports it in option 82. */
  switchPort?: SwitchPort;
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
  /** Replaces the profile's menu. */
  menu?: MenuConfig;
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

/**
 * Where the server keeps its state: JSON files under server.state_dir (one server), or one
 * PostgreSQL database shared by every boot server of the site.
 */
export type StateConfig = { backend: 'files' } | PostgresStateConfig;

export interface PostgresStateConfig {
  backend: 'postgres';
  /** The URL as written, less any password (for messages and logs). */
  url: string;
  /** A TCP host name or address, or the directory of a unix socket (starts with "/"). */
  host: string;
  port: number;
  database: string;
  user: string;
  /** A file holding the password (its first line); read at each connection. */
  passwordFile?: string;
  /** The environment variable holding the password when no file is given (default PGPASSWORD). */
  passwordEnv: string;
  /**
   * TLS to the database: verify-full (the certificate must be signed by ca_file, or the
   * system's CAs, and name host), require (encrypted, unverified), off. Default verify-full
   * over TCP to another host, off over a unix socket or loopback.
   */
  tls: 'verify-full' | 'require' | 'off';
  caFile?: string;
  /**
   * Seconds a server keeps booting the nodes it has cached while the database is unreachable
   * (it hands out no new address meanwhile).
   */
  offlineGraceSec: number;
  /**
   * The key that seals the secrets kept in the database (AES-256-GCM), the same file on every
   * server and never in the database; default STATE_DIR/secrets.key.
   */
  secretsKeyFile?: string;
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
  /** Where state lives: files (default) or a shared PostgreSQL database. */
  state: StateConfig;
}
