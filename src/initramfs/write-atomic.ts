import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `source` to `path` through a temporary file in the same directory, then renames it:
 * a reader (a TFTP or HTTP transfer of the current initrd) sees the old file or the new one,
 * never a half-written one, and a failed build leaves nothing behind. Returns the bytes written.
 */
export async function writeFileAtomic(path: string, source: AsyncIterable<Uint8Array>, mode = 0o644): Promise<number> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  let written = 0;
  try {
    for await (const chunk of source) {
      await fh.write(chunk);
      written += chunk.length;
    }
    // Durable before it becomes visible: a crash after the rename must not leave an empty file.
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
    return written;
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
}
