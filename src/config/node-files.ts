import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import type { Fields } from './yaml-fields.js';
import type { FileSpec } from './types.js';
import { TEMPLATE_VARIABLES, templateNames } from './template.js';

// One file per entry, placed at boot on top of the image (DESIGN: never baked into it).
const MAX_INLINE = 256 * 1024;

/**
 * YAML reads an unquoted 0644 as the decimal number 644 (YAML 1.2 has no leading-zero octal),
 * so a number is taken by its digits; both `mode: 0600` and `mode: "0600"` mean rw-------.
 */
function readMode(f: Fields): number {
  const raw = f.raw('mode');
  if (raw === undefined) return 0o644;
  const text = f.optString('mode') ?? '';
  if (!/^0?[0-7]{3,4}$/.test(text)) f.fail('mode', `"${text}" is not an octal file mode such as "0644" (quote it)`, raw);
  const mode = parseInt(text, 8);
  if (mode & 0o7000) f.fail('mode', 'setuid, setgid and sticky bits are not allowed on per-node files', raw);
  return mode;
}

/** `files:` of a profile or node: [{ path, content | source, mode, template }]. */
export function readFileSpecs(f: Fields, path: (p: string) => string): FileSpec[] {
  const seen = new Set<string>();
  return f.list('files').map((e) => {
    const dest = e.string('path');
    if (!dest.startsWith('/') || posix.normalize(dest) !== dest || dest === '/' || dest.endsWith('/') || /[\x00-\x1f\x7f]/.test(dest)) {
      e.fail('path', `"${dest}" must be a normalized absolute file path on the node, e.g. /etc/motd`, e.raw('path'));
    }
    if (seen.has(dest)) e.fail('path', `${dest} is listed twice`, e.raw('path'));
    seen.add(dest);
    const content = e.optString('content');
    const source = e.optString('source');
    if (content === undefined && source === undefined) e.fail('content', 'is required (inline text), or give source: FILE');
    if (content !== undefined && source !== undefined) e.fail('source', 'cannot be given with content: choose one', e.raw('source'));
    if (content !== undefined && Buffer.byteLength(content) > MAX_INLINE) e.fail('content', `is over ${MAX_INLINE / 1024} KiB: use source: FILE`, e.raw('content'));
    const abs = source === undefined ? undefined : path(source);
    if (abs !== undefined && !existsSync(abs)) e.fail('source', `${abs} does not exist`, e.raw('source'));
    const template = e.bool('template', false);
    if (template && content !== undefined) {
      const unknown = templateNames(content).filter((n) => !(TEMPLATE_VARIABLES as readonly string[]).includes(n));
      if (unknown.length) e.fail('content', `unknown template variable {{${unknown[0]}}} (known: ${TEMPLATE_VARIABLES.join(', ')})`, e.raw('content'));
    }
    const spec: FileSpec = { path: dest, mode: readMode(e), template, ...(content !== undefined ? { content } : {}), ...(abs !== undefined ? { source: abs } : {}) };
    e.rejectUnknown();
    return spec;
  });
}

/** A node's files: its profile's, with the node's own replacing any of the same path. */
export function mergeFileSpecs(base: readonly FileSpec[], over: readonly FileSpec[]): FileSpec[] {
  const paths = new Set(over.map((s) => s.path));
  return [...base.filter((s) => !paths.has(s.path)), ...over];
}
