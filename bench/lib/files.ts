import { createWriteStream } from 'node:fs';
import { chmod, mkdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { once } from 'node:events';

/** Writes `mb` MiB of random bytes (incompressible, so nothing on the path can cheat). */
export async function makeRandomFile(path: string, mb: number): Promise<void> {
  const have = await stat(path).catch(() => undefined);
  if (have?.size === mb * 1048576) return;
  const out = createWriteStream(path, { mode: 0o644 });
  const chunk = Buffer.allocUnsafe(1048576);
  for (let i = 0; i < mb; i++) {
    randomFillSync(chunk);
    if (!out.write(Buffer.from(chunk))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Checks a downloaded copy has the expected size, then removes it. */
export async function checkAndRemove(path: string, bytes: number): Promise<void> {
  const st = await stat(path).catch(() => undefined);
  await unlink(path).catch(() => undefined);
  if (st?.size !== bytes) throw new Error(`Cannot accept transfer: ${path} has ${st?.size ?? 'no'} bytes, expected ${bytes}`);
}

/**
 * WORK/files, world-readable down from WORK: peers such as nginx and tftpd-hpa drop privileges
 * before they open what they serve.
 */
export async function servedFilesDir(work: string): Promise<string> {
  const files = join(work, 'files');
  await mkdir(files, { recursive: true });
  await chmod(work, 0o755);
  await chmod(files, 0o755);
  return files;
}
