import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLabImage } from '../src/lab/lab-image.js';
import { defaultCacheDir } from '../src/lab/tiny-lab.js';
import { run } from '../src/process/run.js';
import type { Benchmark, BenchContext } from './lib/context.js';
import { timed } from './lib/net.js';
import { median, type BenchResult } from './lib/result.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const MB = 1048576;

/** `diskless initrd build` against the image root: the whole command, Node start-up included. */
async function buildOurs(rootfs: string, out: string): Promise<{ seconds: number; bytes: number }> {
  await rm(out, { force: true });
  const { seconds } = await timed(() => run([process.execPath, CLI, 'initrd', 'build', '--root', rootfs, '--output', out], { timeoutMs: 900_000 }));
  return { seconds, bytes: (await stat(out)).size };
}

/**
 * Debian's mkinitramfs for the same kernel and module tree, MODULES=netboot (base + network
 * drivers + NFS, no block drivers), its default zstd. It only builds for the system it runs
 * on, so it runs chrooted into the image root, through an overlay in a private mount namespace:
 * the cached image is never written to, and every mount vanishes with the namespace.
 */
export async function buildMkinitramfs(rootfs: string, kernelVersion: string, work: string, conf = 'MODULES=netboot\n'): Promise<{ seconds: number; bytes: number; path: string }> {
  const dir = join(work, 'mkinitramfs');
  await rm(dir, { recursive: true, force: true });
  for (const d of ['upper/etc/initramfs-tools/conf.d', 'work', 'merged']) await mkdir(join(dir, d), { recursive: true });
  await writeFile(join(dir, 'upper/etc/initramfs-tools/conf.d/bench'), conf);
  const script = `set -e
mount -t overlay overlay -o lowerdir="$1",upperdir="$2/upper",workdir="$2/work" "$2/merged"
for m in proc sys dev; do mount --rbind /$m "$2/merged/$m"; done
mount -t tmpfs tmpfs "$2/merged/tmp"
chroot "$2/merged" mkinitramfs -o /tmp/initrd.img "$3"
cp "$2/merged/tmp/initrd.img" "$2/initrd.img"`;
  const { seconds } = await timed(() => run(['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh', rootfs, dir, kernelVersion], { timeoutMs: 900_000 }));
  return { seconds, bytes: (await stat(join(dir, 'initrd.img'))).size, path: join(dir, 'initrd.img') };
}

export const initrdBenchmark: Benchmark = {
  name: 'initrd',
  network: false,
  async run({ work, scale, log }: BenchContext) {
    const image = await ensureLabImage(defaultCacheDir(), log);
    log(`  image ${image.dir}, kernel ${image.kernelVersion}`);
    const repeats = scale.name === 'quick' ? 1 : 3;
    const ours: Array<{ seconds: number; bytes: number }> = [];
    const peer: Array<{ seconds: number; bytes: number }> = [];
    for (let i = 0; i < repeats; i++) {
      const o = await buildOurs(image.rootfs, join(work, 'ours.img'));
      log(`  round ${i + 1} diskless   ${o.seconds.toFixed(1)} s, ${(o.bytes / MB).toFixed(2)} MiB`);
      ours.push(o);
      const p = await buildMkinitramfs(image.rootfs, image.kernelVersion, work);
      log(`  round ${i + 1} mkinitramfs ${p.seconds.toFixed(1)} s, ${(p.bytes / MB).toFixed(2)} MiB`);
      peer.push(p);
    }
    const base = { bench: 'initrd', link: '-', peer: 'mkinitramfs (MODULES=netboot)', better: 'lower' as const };
    const rows: BenchResult[] = [
      { ...base, case: `build for ${image.kernelVersion}, image's own modules`, unit: 's', ours: median(ours.map((x) => x.seconds)), peerValue: median(peer.map((x) => x.seconds)), oursRuns: ours.map((x) => x.seconds), peerRuns: peer.map((x) => x.seconds) },
      { ...base, case: `size, zstd (both defaults)`, unit: 'MiB', ours: median(ours.map((x) => x.bytes / MB)), peerValue: median(peer.map((x) => x.bytes / MB)), oursRuns: ours.map((x) => x.bytes / MB), peerRuns: peer.map((x) => x.bytes / MB) },
    ];
    return rows;
  },
};
