import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NBD_KEEPER_SOURCE } from '../initramfs/nbd-keeper.js';
import { buildNetworkInitrd, INITRAMFS_DIR, type NetworkInitrdOptions } from '../initramfs/network-initrd.js';

async function dirDigest(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (d: string): Promise<void> => {
    for (const n of (await readdir(d)).sort()) {
      const p = join(d, n);
      const st = await stat(p);
      if (st.isDirectory()) await walk(p);
      else h.update(`${relative(dir, p)}\0${st.mode}\0`).update(await readFile(p));
    }
  };
  await walk(dir);
  return h.digest('hex').slice(0, 16);
}

/**
 * Our network initrd, built once and kept in CACHE/initrd/NAME-KEY.img, the key a hash of its
 * inputs: `inputs` (what names the image: its cache directory, which holds its package
 * versions), the options, /init and its stages, the builder's code and the NBD helper's source.
 */
export async function cachedNetworkInitrd(name: string, inputs: readonly string[], options: Omit<NetworkInitrdOptions, 'output' | 'helperCacheDir'>, cacheDir: string, progress: (m: string) => void = () => {}): Promise<string> {
  const h = createHash('sha256');
  for (const i of inputs) h.update(`${i}\0`);
  h.update(JSON.stringify(options))
    .update(await dirDigest(INITRAMFS_DIR))
    .update(await dirDigest(fileURLToPath(new URL('../initramfs', import.meta.url))))
    .update(await readFile(NBD_KEEPER_SOURCE));
  const out = join(cacheDir, 'initrd', `${name}-${h.digest('hex').slice(0, 16)}.img`);
  if (existsSync(out)) return out;
  await mkdir(join(cacheDir, 'initrd'), { recursive: true });
  progress('building the network initrd from the image\'s own kernel modules');
  const s = await buildNetworkInitrd({ ...options, output: out, helperCacheDir: join(cacheDir, 'helpers') });
  progress(`initrd: ${s.moduleCount} modules, ${(s.size / 1048576).toFixed(1)} MiB (${s.kernelVersion})`);
  return out;
}
