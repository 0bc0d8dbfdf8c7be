import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../lab/process.js';
import type { CpioEntry } from './cpio.js';

/** The C source, beside this module's TypeScript (dist/ holds only the compiled .js). */
export const NBD_KEEPER_SOURCE = fileURLToPath(new URL('../../../src/initramfs/helpers/nbd-keeper.c', import.meta.url));

/** Where /init finds it (root.sh); next to nbd-client. */
export const NBD_KEEPER_PATH = '/usr/sbin/diskless-nbd-keeper';

/**
 * Compiles the NBD reconnect helper (helpers/nbd-keeper.c) as a static binary with the host's
 * gcc, cached in `cacheDir` by the source's hash, and returns its path. Static, so it needs no
 * library from the root filesystem it keeps alive, and keeps running after switch_root.
 */
export async function buildNbdKeeper(cacheDir = join(tmpdir(), 'diskless-helpers')): Promise<string> {
  const source = await readFile(NBD_KEEPER_SOURCE);
  const key = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const out = join(cacheDir, `nbd-keeper-${key}`);
  if (existsSync(out)) return out;
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  await run(['gcc', '-static', '-Os', '-s', '-Wall', '-Werror', '-o', tmp, NBD_KEEPER_SOURCE]).catch((e: unknown) => {
    throw new Error(`Cannot build the NBD reconnect helper (needs gcc and libc6-dev): ${e instanceof Error ? e.message : String(e)}`);
  });
  await rename(tmp, out);
  return out;
}

/** The helper as an initramfs entry, for `buildInitramfs({ extraFiles })`. */
export async function nbdKeeperEntries(cacheDir?: string): Promise<CpioEntry[]> {
  const data = new Uint8Array(await readFile(await buildNbdKeeper(cacheDir)));
  return [{ type: 'file', path: NBD_KEEPER_PATH.slice(1), mode: 0o755, data }];
}
