import { stat } from 'node:fs/promises';
import { isCode } from './error-code.js';

/** Whether something is at `path` (following symlinks); any error but "not there" is thrown, not taken for absence. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR')) return false;
    throw e;
  }
}
