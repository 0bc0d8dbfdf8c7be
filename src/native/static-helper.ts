import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../process/run.js';

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
 * as it is.
 */
export async function buildStaticHelper(source: string, name: string, cacheDir = join(tmpdir(), 'diskless-helpers')): Promise<string> {
  const text = await readFile(source);
  const key = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const prebuilt = join(PREBUILT_HELPERS_DIR, `${name}-${key}`);
  if (existsSync(prebuilt)) return prebuilt;
  const out = join(cacheDir, `${name}-${key}`);
  if (existsSync(out)) return out;
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  await run(['gcc', '-static', '-Os', '-s', '-Wall', '-Werror', '-o', tmp, source]).catch((e: unknown) => {
    throw new Error(`Cannot build ${name} (needs gcc and libc6-dev: apt-get install gcc libc6-dev): ${e instanceof Error ? e.message : String(e)}`);
  });
  await rename(tmp, out);
  return out;
}
