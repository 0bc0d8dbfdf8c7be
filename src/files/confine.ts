import { realpath } from 'node:fs/promises';
import { sep, resolve } from 'node:path';

/**
 * Maps a client-supplied relative path onto `root`, or returns undefined when it would
 * leave the root: ".." segments, NUL bytes, over-long names, or a symlink pointing outside.
 * One leading "/" is accepted and means root-relative (pxelinux and iPXE send such names).
 */
export async function confinedPath(root: string, requested: string, maxLength = 255): Promise<string | undefined> {
  if (requested.length === 0 || requested.length > maxLength || requested.includes('\0')) return undefined;
  const rel = requested.replace(/\\/g, '/').replace(/^\//, '');
  const parts = rel.split('/');
  if (rel === '' || parts.some((p) => p === '..' || p === '')) return undefined;
  let realRoot: string;
  let real: string;
  try {
    realRoot = await realpath(root);
    real = await realpath(resolve(realRoot, ...parts));
  } catch {
    return undefined;
  }
  return real === realRoot || real.startsWith(realRoot + sep) ? real : undefined;
}
