import type { DiskConfig, NetworkConfig, ProfileConfig, ServerConfig } from '../config/types.js';
import { bootUrl, nfsExportPath, nfsVersionPath, profileImagePath } from './urls.js';

/** A root pinned to one stored image version: one boot never mixes two versions. */
export interface PinnedRoot {
  /** Boot tree path of the version's squashfs. */
  path: string;
  sha256: string;
  /** NBD export name of that version (versionExport). */
  exportName: string;
  /** Image name and version: NFS roots mount that version's unpacked tree (nfsVersionPath). */
  image: string;
  version: string;
}

/**
 * Kernel arguments that tell /init where this profile's root is (DESIGN.md "Kernel command
 * line"). `sha256` pins a live image to the bytes this server would send right now. `server`
 * is the address the node reaches this server at (its subnet's) and the NBD port. `peers` are
 * the other live boot servers' base URLs for this node (shared state only), in the order /init
 * tries them after `diskless.server`: one `rd.diskless.peer=URL` each. /init reaches a peer's
 * files, reports, NBD export and secrets listener at that host, on this server's paths and ports.
 */
export function rootArgs(profile: ProfileConfig, server: { readonly address: string; readonly nbdPort: number }, baseUrl: string, sha256: string | undefined, pinned?: PinnedRoot, peers: readonly string[] = []): string {
  const root = profile.root;
  if (!root) return '';
  const args: string[] = [];
  switch (root.mode) {
    case 'live':
      args.push(`root=live:${bootUrl(baseUrl, pinned?.path ?? profileImagePath(profile.name))}`);
      if (pinned ?? sha256) args.push(`rd.diskless.sha256=${pinned?.sha256 ?? sha256}`);
      if (root.copy) args.push('rd.diskless.copy');
      break;
    case 'nbd':
      args.push(`root=nbd:${server.address}:${server.nbdPort}/${pinned?.exportName ?? profile.name}`);
      break;
    case 'nfs': {
      // An existing filer, or this server: a stored version's own tree, or the profile's dir.
      const host = root.nfsServer ?? server.address;
      const path = root.nfsPath ?? (pinned ? nfsVersionPath(pinned.image, pinned.version) : nfsExportPath(profile.name));
      // nfs4: is the dracut form for v4; nfs: with vers=3 is v3, as the kernel's nfsroot mounts it.
      args.push((root.nfsVersion ?? 4) === 4 ? `root=nfs4:${host}:${path}` : `root=nfs:${host}:${path}:vers=3`);
      break;
    }
  }
  if (root.overlay === 'none') args.push('rd.diskless.overlay=none');
  args.push(`rd.retry=${root.retry}`, `diskless.server=${baseUrl}`, ...peers.map((p) => `rd.diskless.peer=${p}`));
  return args.join(' ');
}

/**
 * Kernel arguments for a profile's local disk (/init's disk.sh): how to find it, then what to
 * put there. A glob's spaces become "?" (a kernel argument has none; "?" matches the space).
 */
export function diskArgs(disk: DiskConfig | undefined): string {
  if (!disk) return '';
  const { match } = disk;
  const glob = (g: string) => g.replace(/ /g, '?');
  return [
    match.path !== undefined ? `rd.diskless.disk.path=${match.path}` : '',
    match.model !== undefined ? `rd.diskless.disk.model=${glob(match.model)}` : '',
    match.byId !== undefined ? `rd.diskless.disk.id=${glob(match.byId)}` : '',
    match.minBytes !== undefined || match.maxBytes !== undefined ? `rd.diskless.disk.size=${match.minBytes ?? ''}-${match.maxBytes ?? ''}` : '',
    `rd.diskless.disk.upper=${disk.upper ? 1 : 0}`,
    disk.swapMiB ? `rd.diskless.disk.swap=${disk.swapMiB}` : '',
    disk.scratch !== undefined ? `rd.diskless.disk.scratch=${disk.scratch}` : '',
    disk.persist.length ? `rd.diskless.disk.persist=${disk.persist.join(',')}` : '',
  ].filter(Boolean).join(' ');
}

/** Kernel arguments for a bonded or VLAN boot link (/init's network.sh); MACs written with "-". */
export function networkArgs(network: NetworkConfig | undefined): string {
  if (!network) return '';
  return [
    network.bond ? `rd.diskless.bond=${network.bond.mode} rd.diskless.bond.slaves=${network.bond.interfaces.map((i) => i.replace(/:/g, '-')).join(',')}` : '',
    network.vlan !== undefined ? `rd.diskless.vlan=${network.vlan}` : '',
  ].filter(Boolean).join(' ');
}
