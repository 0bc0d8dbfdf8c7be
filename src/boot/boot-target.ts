import type { DisklessConfig, Loader, NodeConfig, ProfileConfig } from '../config/types.js';

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
}

export function nodeByMac(config: DisklessConfig, mac: string): NodeConfig | undefined {
  return config.nodes.find((n) => n.mac === mac);
}

/**
 * Known nodes boot their profile; unknown machines boot default_profile only under `allow`
 * (`register` keeps default_profile for `node adopt`, and the machine waits to be adopted).
 */
export function bootTargetFor(config: DisklessConfig, mac: string): BootTarget | undefined {
  const node = nodeByMac(config, mac);
  if (!node && config.dhcp.unknownClients !== 'allow') return undefined;
  const profileName = node?.profile ?? config.defaultProfile;
  const profile = profileName === undefined ? undefined : config.profiles.get(profileName);
  if (!profile) return undefined;
  const cmdline = [profile.cmdline, node?.cmdline].filter((s) => s && s.trim()).join(' ');
  return { mac, profile, cmdline, loader: node?.loader ?? profile.loader, ...profileFiles(profile), ...(node ? { node } : {}) };
}

/** The served paths of a profile's own kernel and initrds (store images pin theirs later). */
export function profileFiles(profile: ProfileConfig): { kernel: string; initrds: string[] } {
  return { kernel: kernelPath(profile), initrds: profile.initrds.map((_, i) => initrdPath(profile, i)) };
}

/** Names under which a profile's files are served, the same over TFTP and HTTP. */
export function kernelPath(profile: ProfileConfig): string {
  return `profiles/${profile.name}/kernel`;
}

export function initrdPath(profile: ProfileConfig, index: number): string {
  return `profiles/${profile.name}/initrd-${index}`;
}
