import { readFile } from 'node:fs/promises';
import { buildStaticHelper, nativeSource } from '../native/static-helper.js';
import type { CpioEntry } from './cpio.js';

/** The C source, beside this module's TypeScript (dist/ holds only the compiled .js). */
export const NBD_KEEPER_SOURCE = nativeSource('src/initramfs/helpers/nbd-keeper.c');

/** Where /init finds it (root.sh); next to nbd-client. */
export const NBD_KEEPER_PATH = '/usr/sbin/diskless-nbd-keeper';

/** The NBD reconnect helper (helpers/nbd-keeper.c), built static and cached. */
export function buildNbdKeeper(cacheDir?: string): Promise<string> {
  return buildStaticHelper(NBD_KEEPER_SOURCE, 'nbd-keeper', cacheDir);
}

/** The helper as an initramfs entry, for `buildInitramfs({ extraFiles })`. */
export async function nbdKeeperEntries(cacheDir?: string): Promise<CpioEntry[]> {
  const data = new Uint8Array(await readFile(await buildNbdKeeper(cacheDir)));
  return [{ type: 'file', path: NBD_KEEPER_PATH.slice(1), mode: 0o755, data }];
}
