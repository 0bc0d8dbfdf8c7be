import type { ProfileConfig } from '../config/types.js';
import { bootUrl, nfsExportPath, profileImagePath } from './urls.js';

/** A root pinned to one stored image version: one boot never mixes two versions. */
export interface PinnedRoot {
  /** Boot tree path of the version's squashfs. */
  path: string;
  sha256: string;
  /** NBD export name of that version (versionExport). */
  exportName: string;
}

/**
 * Kernel arguments that tell /init where this profile's root is (DESIGN.md "Kernel command
 * line"). `sha256` pins a live image to the bytes this server would send right now. `server`
 * is the address the node reaches this server at (its subnet's) and the NBD port.
 */
export function rootArgs(profile: ProfileConfig, server: { readonly address: string; readonly nbdPort: number }, baseUrl: string, sha256: string | undefined, pinned?: PinnedRoot): string {
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
    case 'nfs':
      args.push(`root=nfs4:${server.address}:${nfsExportPath(profile.name)}`);
      break;
  }
  if (root.overlay === 'none') args.push('rd.diskless.overlay=none');
  args.push(`rd.retry=${root.retry}`, `diskless.server=${baseUrl}`);
  return args.join(' ');
}
