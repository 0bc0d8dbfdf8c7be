import type { DisklessConfig, ProfileConfig } from '../config/types.js';
import type { NfsExport, NfsVersion } from '../nfs/ganesha-config.js';
import type { ImageStore } from '../images/store/image-store.js';
import { nfsExportPath, nfsImageExportPath } from '../boot/urls.js';

/** Profiles whose root this server exports over NFS (not those on another NFS server). */
export function servedNfsProfiles(config: DisklessConfig): ProfileConfig[] {
  return [...config.profiles.values()].filter((p) => p.root?.mode === 'nfs' && p.root.nfsServer === undefined);
}

export interface NfsPlan {
  exports: NfsExport[];
  versions: NfsVersion[];
  /** Stored images whose versions' trees are exported (ROOT/NAME/trees, one export each). */
  images: string[];
}

/**
 * What nfs-ganesha serves for a config: each profile's dir at /PROFILE, and for profiles on a
 * stored image one export of that image's unpacked version trees at /images/NAME, so a node
 * mounts /images/NAME/VERSION, the version its boot script pinned. Undefined when no profile
 * needs this server's NFS.
 */
export function nfsPlan(config: DisklessConfig, store: ImageStore): NfsPlan | undefined {
  const profiles = servedNfsProfiles(config);
  if (profiles.length === 0) return undefined;
  const exports: NfsExport[] = [];
  const images = [...new Set(profiles.flatMap((p) => (p.image !== undefined ? [p.image] : [])))];
  for (const p of profiles) if (p.image === undefined && p.root?.dir) exports.push({ id: exports.length + 1, path: p.root.dir, pseudo: nfsExportPath(p.name) });
  for (const image of images) exports.push({ id: exports.length + 1, path: store.treesDir(image), pseudo: nfsImageExportPath(image) });
  // NFSv4 is always served (it needs nothing else on the host); v3 is added beside it when a
  // profile asks, so one profile on v3 does not take v4 away from the others or from clients.
  const versions: NfsVersion[] = profiles.some((p) => p.root?.nfsVersion === 3) ? [3, 4] : [4];
  return { exports, versions, images };
}

/** Who may mount: server.nfs_clients, or with `inventory` every inventory node's reserved address. */
export function nfsClients(config: DisklessConfig): string[] {
  const c = config.server.nfsClients;
  if (c !== 'inventory') return c;
  return [...new Set(config.nodes.flatMap((n) => (n.address !== undefined ? [n.address] : [])))].sort();
}
