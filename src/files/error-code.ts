/**
 * Whether `e` carries `code` (an errno name such as 'ENOENT' from node:fs, or any error that
 * sets a `code` property). Errors from node:fs are thrown as `unknown`; this is the one check.
 */
export function isCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}
