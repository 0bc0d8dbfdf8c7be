import type { DisklessConfig, Loader, NodeConfig, ProfileConfig } from '../config/types.js';
import { profileInitrdPath, profileKernelPath } from './urls.js';
import { switchPortText, type SwitchPort } from '../net/switch-port.js';

/** What one machine boots: its node entry (if known), profile, full kernel command line and loader. */
export interface BootTarget {
  mac: string;
  node?: NodeConfig;
  profile: ProfileConfig;
  cmdline: string;
  loader: Loader;
  /** Where the kernel and initrds are served (boot tree paths, the same over TFTP and HTTP). */
  kernel: string;
  initrds: string[];
  /** The kernel's file on this server (the profile's, or the pinned store version's). */
  kernelFile?: string;
}

interface NodeIndex {
  byMac: Map<string, NodeConfig>;
  byAddress: Map<string, NodeConfig>;
  /** By switchPortText of the node's switch_port. */
  byPort: Map<string, NodeConfig>;
}

// A loaded config is never changed (a reload makes a new one), so its index is built once. DHCP
// asks for every pool address it considers, HTTP for every script: a scan of the inventory each
// time made a pool scan O(pool × nodes).
const indexes = new WeakMap<DisklessConfig, NodeIndex>();

function nodeIndex(config: DisklessConfig): NodeIndex {
  let index = indexes.get(config);
  if (index === undefined) {
    index = { byMac: new Map(), byAddress: new Map(), byPort: new Map() };
    for (const n of config.nodes) {
      if (n.mac !== undefined && !index.byMac.has(n.mac)) index.byMac.set(n.mac, n);
      if (n.switchPort !== undefined && !index.byPort.has(switchPortText(n.switchPort))) index.byPort.set(switchPortText(n.switchPort), n);
      if (n.address !== undefined && !index.byAddress.has(n.address)) index.byAddress.set(n.address, n);
    }
    indexes.set(config, index);
  }
  return index;
}

export function nodeByMac(config: DisklessConfig, mac: string): NodeConfig | undefined {
  return nodeIndex(config).byMac.get(mac);
}

/** The node whose switch_port is `port` (the same circuit id, and remote id or none). */
export function nodeByPort(config: DisklessConfig, port: SwitchPort): NodeConfig | undefined {
  return nodeIndex(config).byPort.get(switchPortText(port));
}

/**
 * The inventory node a machine is: the node listing its MAC, else the node listing the switch
 * port it is on. `port` must come from a relay the server trusts (see the DHCP responder) or
 * from the record of one; a MAC match wins, since it names the machine itself.
 */
export function nodeForMachine(config: DisklessConfig, mac: string, port: SwitchPort | undefined): NodeConfig | undefined {
  return nodeByMac(config, mac) ?? (port === undefined ? undefined : nodeByPort(config, port));
}

/**
 * The name a node's identity is kept under (its secrets, SSH host keys): its MAC, or for a
 * node without one "host:NAME", so whichever machine is on its port is the same node.
 */
export function nodeKey(node: NodeConfig): string {
  return node.mac ?? `host:${node.hostname ?? ''}`;
}

/** The node with `address` as its fixed reservation. */
export function nodeByAddress(config: DisklessConfig, address: string): NodeConfig | undefined {
  return nodeIndex(config).byAddress.get(address);
}

/**
 * Known nodes boot their profile (`node`: the node the machine `mac` is, by default the one
 * listing that MAC); unknown machines boot default_profile only under `allow`
 * (`register` keeps default_profile for `node adopt`, and the machine waits to be adopted).
 */
export function bootTargetFor(config: DisklessConfig, mac: string, node: NodeConfig | undefined = nodeByMac(config, mac)): BootTarget | undefined {
  if (!node && config.dhcp.unknownClients !== 'allow') return undefined;
  const profileName = node?.profile ?? config.defaultProfile;
  const profile = profileName === undefined ? undefined : config.profiles.get(profileName);
  if (!profile) return undefined;
  const cmdline = [profile.cmdline, node?.cmdline].filter((s) => s && s.trim()).join(' ');
  return { mac, profile, cmdline, loader: node?.loader ?? profile.loader, ...profileFiles(profile), ...(node ? { node } : {}), ...(profile.kernel !== '' ? { kernelFile: profile.kernel } : {}) };
}

/** The served paths of a profile's own kernel and initrds (store images pin theirs later). */
export function profileFiles(profile: ProfileConfig): { kernel: string; initrds: string[] } {
  return { kernel: profileKernelPath(profile.name), initrds: profile.initrds.map((_, i) => profileInitrdPath(profile.name, i)) };
}
