import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultHelperCacheDir, ensurePrivateDir } from '../files/cache-dir.js';
import { run } from '../process/run.js';

/** Debian's name of a machine architecture ("amd64", "arm64"); the GNU triplet names its cross compiler. */
export interface HelperTarget {
  arch: string;
  triplet: string;
}

/** A C source of ours beside the TypeScript (dist/ holds only compiled .js), by repo path. */
export function nativeSource(repoPath: string): string {
  return fileURLToPath(new URL(`../../../${repoPath}`, import.meta.url));
}

/**
 * Where an installed package keeps helpers compiled when it was built (scripts/build-deb.sh),
 * so a boot server needs no compiler: `helpers/` beside `dist/`.
 */
export const PREBUILT_HELPERS_DIR = fileURLToPath(new URL('../../../helpers/', import.meta.url));

/**
 * Compiles one of our small C helpers (what Node cannot do: raw sockets, netlink) as a static
 * binary with the host's gcc, cached in `cacheDir` by the source's hash, and returns its path.
 * Static, so it runs anywhere: in an initramfs, or after switch_root without the root's libraries.
 * A helper the package was built with (PREBUILT_HELPERS_DIR, same name and source hash) is used
 * as it is. With `target`, it is cross-compiled for that architecture (`TRIPLET-gcc`, e.g.
 * Debian's gcc-aarch64-linux-gnu with libc6-dev-arm64-cross) and cached under its own name.
 */
export async function buildStaticHelper(source: string, name: string, cacheDir = defaultHelperCacheDir(), target?: HelperTarget): Promise<string> {
  const text = await readFile(source);
  const key = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const file = target === undefined ? `${name}-${key}` : `${name}-${target.arch}-${key}`;
  const prebuilt = join(PREBUILT_HELPERS_DIR, file);
  if (existsSync(prebuilt)) return prebuilt;
  const out = join(cacheDir, file);
  if (existsSync(out)) return out;
  await ensurePrivateDir(cacheDir);
  const tmp = `${out}.${process.pid}.tmp`;
  const gcc = target === undefined ? 'gcc' : `${target.triplet}-gcc`;
  const packages = target === undefined ? 'gcc libc6-dev' : `gcc-${target.triplet} libc6-dev-${target.arch}-cross`;
  await run([gcc, '-static', '-Os', '-s', '-Wall', '-Werror', '-o', tmp, source]).catch((e: unknown) => {
    throw new Error(`Cannot build ${name}${target === undefined ? '' : ` for ${target.arch}`} (needs ${gcc}: apt-get install ${packages}): ${e instanceof Error ? e.message : String(e)}`);
  });
  await rename(tmp, out);
  return out;
}
