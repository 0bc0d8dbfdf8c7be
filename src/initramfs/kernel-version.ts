import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveInRoot } from './root-path.js';

/** Kernel versions of an image: directories under ROOT/lib/modules that depmod has indexed. */
export async function listKernelVersions(root: string): Promise<string[]> {
  const where = await resolveInRoot(root, '/lib/modules');
  if (!where.ok || !where.stats.isDirectory()) return [];
  const versions: string[] = [];
  for (const name of await readdir(where.hostPath)) {
    try {
      await access(join(where.hostPath, name, 'modules.dep'));
      versions.push(name);
    } catch {
      // A directory without modules.dep (leftover "build" links, a removed kernel) is no choice.
    }
  }
  // Newest first; equal numbers (two flavours) in name order so the listing is stable.
  return versions.sort((a, b) => compareKernelVersions(b, a) || (a < b ? -1 : a > b ? 1 : 0));
}

/** The numbers of "6.1.0-56-amd64": [6, 1, 0, 56]; the flavour after them does not order kernels. */
function versionNumbers(v: string): number[] {
  const m = /^[\d.\-+~]+/.exec(v);
  return (m?.[0] ?? '').split(/[.\-+~]/).filter((p) => p !== '').map(Number);
}

export function compareKernelVersions(a: string, b: string): number {
  const x = versionNumbers(a);
  const y = versionNumbers(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The kernel an initramfs for this image is for: the only one, the one the image's /vmlinuz
 * link names (Debian's kernel packages keep it on the newest), or else the newest. Two
 * flavours of one version ("-amd64" and "-cloud-amd64") are ambiguous: an initrd with the
 * wrong flavour's modules fails at the first modprobe (a kernel loads only the modules built
 * for it), so the caller must choose.
 */
export async function chooseKernelVersion(root: string): Promise<string> {
  const versions = await listKernelVersions(root);
  if (versions.length === 0) {
    throw new Error(`Cannot choose a kernel: no ${join(root, 'lib/modules')}/VERSION/modules.dep (the image needs a kernel package)`);
  }
  if (versions.length === 1) return versions[0]!;
  for (const link of ['/vmlinuz', '/boot/vmlinuz']) {
    const where = await resolveInRoot(root, link);
    if (!where.ok || where.links.length === 0) continue;
    const m = /vmlinuz-(.+)$/.exec(where.path);
    if (m && versions.includes(m[1]!)) return m[1]!;
  }
  const [newest, second] = versions;
  if (compareKernelVersions(newest!, second!) > 0) return newest!;
  throw new Error(`Cannot choose a kernel: ${root} has modules for ${versions.join(', ')}; name one`);
}
