import type { BlockCache } from '../../files/block-cache.js';
import { openFileReader } from '../../files/sized-reader.js';
import type { NbdExport } from './exports.js';

export interface FileExport extends NbdExport {
  /** Releases the file; reads after it fail (and are answered EIO). */
  close(): Promise<void>;
}

/**
 * A regular file served as an export. The file is opened once and the descriptor kept, for
 * two reasons. A running node keeps reading the image it booted even after a new image is
 * renamed over the path (the old inode lives while the fd does; the size is taken at open
 * for the same reason). And it is faster: reading 64 MiB from the page cache, 16 reads in
 * flight, took 289 ms with a kept fd against 804 ms opening per read at 4 KiB, and 20 ms
 * against 38 ms at 128 KiB (Node 20, 2 cores). Share one FileExport between connections and
 * close it when the image is retired. Block devices (which stat as size 0) and FIFOs (which
 * would block a read forever) are refused: regular files only. With a `cache`, reads are
 * served through it (`slices`): a block in memory is answered in the same turn, with no
 * thread-pool read; blocks are keyed by the descriptor's identity, so a new image renamed over
 * the path never shares blocks with the old one.
 */
export async function fileExport(path: string, description?: string, cache?: BlockCache): Promise<FileExport> {
  const opened = await openFileReader(path);
  if (!opened.ok) throw new Error(opened.error);
  const { reader } = opened;
  const whole = (offset: number, length: number, slices: readonly Buffer[]): readonly Buffer[] => {
    let got = 0;
    for (const s of slices) got += s.length;
    if (got < length) throw new Error(`Cannot read ${path}: ends at ${offset + got}, expected ${offset + length}`);
    return slices;
  };
  return {
    ...(cache === undefined ? {} : {
      slices: (offset: number, length: number) =>
        cache.peek(reader, offset, length) ?? cache.read(reader, offset, length).then((s) => whole(offset, length, s)),
    }),
    size: reader.size,
    ...(description === undefined ? {} : { description }),
    async read(offset, length) {
      const out = await reader.read(offset, length);
      // Only a file truncated since open comes up short; a block device must never get less.
      if (out.length < length) throw new Error(`Cannot read ${path}: ends at ${offset + out.length}, expected ${offset + length}`);
      return out;
    },
    close: () => reader.close(),
  };
}
