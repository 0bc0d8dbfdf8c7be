import { readFile } from 'node:fs/promises';
import { buildStaticHelper, nativeSource } from '../native/static-helper.js';
import { ARCH_TOOLS, type CpuArch, hostArch } from './arch.js';
import type { CpioEntry } from './cpio.js';

/** The C source, beside this module's TypeScript (dist/ holds only the compiled .js). */
export const NBD_KEEPER_SOURCE = nativeSource('src/initramfs/helpers/nbd-keeper.c');

/** Where /init finds it (root.sh); next to nbd-client. */
export const NBD_KEEPER_PATH = '/usr/sbin/diskless-nbd-keeper';

/**
 * The NBD reconnect helper (helpers/nbd-keeper.c), built static and cached: with the host's gcc
 * for the host's architecture, cross-compiled for another (an arm64 image on an x86 server).
 */
export function buildNbdKeeper(cacheDir?: string, arch: CpuArch = hostArch()): Promise<string> {
  const target = arch === hostArch() ? undefined : { arch, triplet: ARCH_TOOLS[arch].triplet };
  return buildStaticHelper(NBD_KEEPER_SOURCE, 'nbd-keeper', cacheDir, target);
}

/** The helper as an initramfs entry, for `buildInitramfs({ extraFiles })`. */
export async function nbdKeeperEntries(cacheDir?: string, arch?: CpuArch): Promise<CpioEntry[]> {
  const data = new Uint8Array(await readFile(await buildNbdKeeper(cacheDir, arch)));
  return [{ type: 'file', path: NBD_KEEPER_PATH.slice(1), mode: 0o755, data }];
}
