import { rename, rm } from 'node:fs/promises';
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
  opts: { exclude?: readonly string[]; pseudo?: readonly string[]; onLine?: (l: string) => void } = {},
): Promise<void> {
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { force: true });
  try {
    await run(
      [
        'mksquashfs', dir, tmp, '-noappend', '-comp', 'zstd', '-Xcompression-level', '15', 
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
