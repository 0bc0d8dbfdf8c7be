import { promises as fs } from 'node:fs';
import { join, sep } from 'node:path';
import { MAX_FILENAME_BYTES } from './packet.js';

export type PathCheck =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly reason: 'denied' | 'not-found'; readonly error: string };

/**
 * Turns a requested filename into a relative path with '/' separators, or refuses it.
 * pxelinux and iPXE send "/pxelinux.cfg/default" meaning root-relative, so ONE leading slash is
 * dropped; Windows-born configs send backslashes, which count as separators (so "..\\" cannot
 * slip past the ".." check). Empty and "." segments are dropped.
 */
export function normalizeRequestPath(filename: string): PathCheck {
  if (filename.includes('\0')) return { ok: false, reason: 'denied', error: 'Cannot serve path: it contains a NUL byte' };
  if (Buffer.byteLength(filename, 'utf8') > MAX_FILENAME_BYTES) {
    return { ok: false, reason: 'denied', error: `Cannot serve path: longer than ${MAX_FILENAME_BYTES} bytes` };
  }
  const slashed = filename.replaceAll('\\', '/');
  const relative = slashed.startsWith('/') ? slashed.slice(1) : slashed;
  const segments = relative.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return { ok: false, reason: 'denied', error: `Cannot serve ${JSON.stringify(filename)}: ".." segment` };
  if (segments.length === 0) return { ok: false, reason: 'not-found', error: `Cannot serve ${JSON.stringify(filename)}: empty path` };
  return { ok: true, path: segments.join('/') };
}

/**
 * Resolves a normalized relative path under `realRoot` (itself already a realpath) and refuses
 * anything whose real location is outside it: a symlink inside the root pointing at /etc must
 * not be a way out.
 */
export async function resolveInsideRoot(realRoot: string, relative: string): Promise<PathCheck> {
  let real: string;
  try {
    real = await fs.realpath(join(realRoot, relative));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, reason: 'not-found', error: `Cannot find ${relative}` };
    return { ok: false, reason: 'denied', error: `Cannot resolve ${relative}: ${code ?? String(e)}` };
  }
  const prefix = realRoot.endsWith(sep) ? realRoot : realRoot + sep;
  if (!real.startsWith(prefix)) return { ok: false, reason: 'denied', error: `Cannot serve ${relative}: resolves outside the root` };
  return { ok: true, path: real };
}
