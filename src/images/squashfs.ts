import { chmod, rename, rm } from 'node:fs/promises';
import { run } from '../process/run.js';

/**
 * A zstd squashfs of `dir`, written to a temp name and renamed into place, so a reader never
 * sees half an image. Reproducible: fixed timestamps, sorted input, root-owned files.
 */
export async function makeSquashfs(
  dir: string,
  out: string,
  // pseudo: mksquashfs pseudo-file definitions, e.g. "etc/x f 644 root root echo hi", adding
  // files without touching the source tree.
  // level: zstd's, 15 by default (small images, slow to make); 3 compresses several times faster.
  opts: { exclude?: readonly string[]; pseudo?: readonly string[]; onLine?: (l: string) => void; level?: number } = {},
): Promise<void> {
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { force: true });
  try {
    await run(
      [
        'mksquashfs', dir, tmp, '-noappend', '-comp', 'zstd', '-Xcompression-level', String(opts.level ?? 15),
        '-mkfs-time', '0', '-all-time', '0', '-no-progress', '-quiet',
        ...(opts.pseudo ?? []).flatMap((p) => ['-p', p]),
        ...(opts.exclude?.length ? ['-wildcards', '-e', ...opts.exclude] : []),
      ],
      opts.onLine ? { onLine: opts.onLine } : {},
    );
    await rename(tmp, out);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Unpacks a squashfs into `dir`, which must not exist: owners, modes (setuid included) and
 * extended attributes as the image holds them, which needs root. The caller renames the result
 * into place, so a half-unpacked tree is never taken for a whole one.
 */
export async function unsquashTree(sqfs: string, dir: string): Promise<void> {
  await run(['unsquashfs', '-no-progress', '-quiet', '-dest', dir, sqfs]);
  // The tree's top is the image's "/", whatever mode mksquashfs gave the source directory.
  await chmod(dir, 0o755);
}
