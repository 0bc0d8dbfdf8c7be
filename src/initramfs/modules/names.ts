/**
 * Module names as kmod compares them: "-" and "_" are the same character in module names, and
 * a file "kernel/fs/nfs/nfsv4.ko.zst" is the module "nfsv4".
 */

export function normalizeModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

/** "kernel/drivers/net/xen-netfront.ko" → "xen_netfront". */
export function moduleNameFromPath(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.indexOf('.');
  return normalizeModuleName(dot < 0 ? base : base.slice(0, dot));
}

/**
 * Aliases are normalized like names, except inside "[...]" where "-" is a range
 * ("pci:v*d*sv*sd*bc0[2-3]*"), as kmod's alias_normalize does.
 */
export function normalizeAlias(alias: string): string {
  let out = '';
  let inBracket = false;
  for (const c of alias) {
    if (c === '[') inBracket = true;
    else if (c === ']') inBracket = false;
    out += c === '-' && !inBracket ? '_' : c;
  }
  return out;
}

export type ModuleCompression = 'gzip' | 'xz' | 'zstd';

const COMPRESSED_MODULE = /\.ko\.(gz|xz|zst)$/;

/** How a module file is compressed, by its name as depmod lists it ("e1000.ko.xz"); undefined for a plain ".ko". */
export function moduleCompression(path: string): ModuleCompression | undefined {
  const m = COMPRESSED_MODULE.exec(path);
  if (m === null) return undefined;
  return m[1] === 'gz' ? 'gzip' : m[1] === 'xz' ? 'xz' : 'zstd';
}

/** "kernel/drivers/net/e1000.ko.zst" → "kernel/drivers/net/e1000.ko": where an initramfs keeps it, decompressed. */
export function plainModulePath(path: string): string {
  return path.replace(COMPRESSED_MODULE, '.ko');
}
