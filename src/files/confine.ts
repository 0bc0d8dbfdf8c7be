import { promises as fs } from 'node:fs';
import { join, sep } from 'node:path';
import { isCode } from './error-code.js';
import type { OpenFileRefusal } from './open-file.js';
import { openFileReader, type OpenReaderResult } from './sized-reader.js';

/**
 * The one rule for a path a client asks for inside a served directory (TFTP's root, the boot
 * tree's tftp_root, which HTTP serves too). In three steps, each done once per request:
 *   1. `normalizeRequestedPath` (pure): the name becomes a root-relative path or is refused;
 *   2. `resolveInsideRoot`: its real location, symlinks followed, must lie inside the root;
 *   3. the open (`openInsideRoot`, or a `diskFile` given `confinedTo`): O_NOFOLLOW, and the
 *      descriptor's own location checked again, since a name can be swapped between 2 and 3.
 */

/** Longest requested name, in UTF-8 bytes: TFTP's filename limit, and longer than any served path. */
export const MAX_REQUESTED_PATH_BYTES = 255;

export interface PathRefusal extends OpenFileRefusal {
  /** 'denied' for a name that tries to leave the root or cannot be checked; 'not-found' otherwise. */
  readonly reason: 'denied' | 'not-found';
}

export type PathCheck = { readonly ok: true; readonly path: string } | PathRefusal;

/**
 * Turns a requested name into a relative path with '/' separators, or refuses it. Backslashes
 * count as separators (Windows-born configs send them, and "..\\" must not slip past the ".."
 * check). Empty and "." segments are dropped, so leading slashes ("/pxelinux.cfg/default",
 * as pxelinux and iPXE send it) and doubled ones mean root-relative; an absolute path stays
 * inside the root. Any ".." segment is refused, even one that would stay inside, as are NUL
 * bytes and names over MAX_REQUESTED_PATH_BYTES.
 */
export function normalizeRequestedPath(requested: string): PathCheck {
  if (requested.includes('\0')) return { ok: false, reason: 'denied', error: 'Cannot serve path: it contains a NUL byte' };
  if (Buffer.byteLength(requested, 'utf8') > MAX_REQUESTED_PATH_BYTES) {
    return { ok: false, reason: 'denied', error: `Cannot serve path: longer than ${MAX_REQUESTED_PATH_BYTES} bytes` };
  }
  const segments = requested.replaceAll('\\', '/').split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return { ok: false, reason: 'denied', error: `Cannot serve ${JSON.stringify(requested)}: ".." segment` };
  if (segments.length === 0) return { ok: false, reason: 'not-found', error: `Cannot serve ${JSON.stringify(requested)}: empty path` };
  return { ok: true, path: segments.join('/') };
}

/**
 * Resolves a normalized relative path under `realRoot` (itself already a realpath) and refuses
 * anything whose real location is outside it: a symlink inside the root pointing at /etc must
 * not be a way out. The path returned is the real one.
 */
export async function resolveInsideRoot(realRoot: string, relative: string): Promise<PathCheck> {
  let real: string;
  try {
    real = await fs.realpath(join(realRoot, relative));
  } catch (e) {
    if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR')) return { ok: false, reason: 'not-found', error: `Cannot find ${relative}` };
    return { ok: false, reason: 'denied', error: `Cannot resolve ${relative}: ${(e as { code?: string }).code ?? String(e)}` };
  }
  const prefix = realRoot.endsWith(sep) ? realRoot : realRoot + sep;
  if (!real.startsWith(prefix)) return { ok: false, reason: 'denied', error: `Cannot serve ${relative}: resolves outside the root` };
  return { ok: true, path: real };
}

/** Steps 2 and 3 for a normalized path: resolved inside `realRoot`, then opened there once. */
export async function openInsideRoot(realRoot: string, relative: string): Promise<OpenReaderResult> {
  const real = await resolveInsideRoot(realRoot, relative);
  if (!real.ok) return real;
  return openFileReader(real.path, { confinedTo: realRoot });
}
