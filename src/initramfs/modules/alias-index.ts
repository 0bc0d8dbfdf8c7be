import { hasWildcard, globToRegExp, literalPrefix } from '../glob.js';
import type { AliasLine } from './index-files.js';
import { normalizeAlias } from './names.js';

/**
 * Alias lookup over tens of thousands of patterns (26k in Debian's 6.1): plain names go in a map,
 * and a pattern's literal prefix is compared before its regex is built, so a lookup builds a
 * handful of regexes rather than all of them.
 */
export interface AliasIndex {
  /** The lines as read, for writing a restricted copy. */
  lines: readonly AliasLine[];
  exact: Map<string, string[]>;
  patterns: Array<{ prefix: string; pattern: string; module: string }>;
}

export function buildAliasIndex(lines: readonly AliasLine[]): AliasIndex {
  const index: AliasIndex = { lines, exact: new Map(), patterns: [] };
  for (const { pattern, module } of lines) {
    const normalized = normalizeAlias(pattern);
    if (hasWildcard(normalized)) {
      index.patterns.push({ prefix: literalPrefix(normalized), pattern: normalized, module });
    } else {
      const list = index.exact.get(normalized) ?? [];
      list.push(module);
      index.exact.set(normalized, list);
    }
  }
  return index;
}

/** Every module an alias names, in index order; kmod loads all of them ("crc32c" has two). */
export function matchAlias(index: AliasIndex, alias: string): string[] {
  const name = normalizeAlias(alias);
  const found = new Set(index.exact.get(name) ?? []);
  for (const p of index.patterns) {
    if (name.startsWith(p.prefix) && !found.has(p.module) && globToRegExp(p.pattern).test(name)) found.add(p.module);
  }
  return [...found];
}
