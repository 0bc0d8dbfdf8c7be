import { readFileSync } from 'node:fs';

/** Gone, or a zombie (dead, only not yet reaped by its parent). */
export function isDead(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').startsWith('Z');
  } catch {
    return true;
  }
}
