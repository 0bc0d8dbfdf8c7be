/**
 * fnmatch(3) with flags 0, as kmod and busybox match module aliases: "*" and "?" also match "/",
 * "[...]" classes with "!" or "^" negation and ranges, and "\" quoting the next character.
 */

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|/-]/g;
const escapeRegex = (s: string): string => s.replace(REGEX_SPECIAL, '\\$&');

export function hasWildcard(pattern: string): boolean {
  return /[*?[\\]/.test(pattern);
}

/** The literal text a match must start with; lets a lookup skip most patterns without a regex. */
export function literalPrefix(pattern: string): string {
  const at = pattern.search(/[*?[\\]/);
  return at < 0 ? pattern : pattern.slice(0, at);
}

/** Index of the "]" closing the class opened at `open`, or -1 when the "[" is literal. */
function classEnd(pattern: string, open: number): number {
  let i = open + 1;
  if (pattern[i] === '!' || pattern[i] === '^') i++;
  // A "]" right after the opening (or its negation) is a member, not the end.
  if (pattern[i] === ']') i++;
  for (; i < pattern.length; i++) if (pattern[i] === ']') return i;
  return -1;
}

function classToRegex(body: string): string {
  let negate = false;
  if (body.startsWith('!') || body.startsWith('^')) {
    negate = true;
    body = body.slice(1);
  }
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    const isRange = body[i + 1] === '-' && i + 2 < body.length;
    if (isRange) {
      out += `${escapeRegex(c)}-${escapeRegex(body[i + 2]!)}`;
      i += 2;
    } else {
      out += escapeRegex(c);
    }
  }
  return `[${negate ? '^' : ''}${out}]`;
}

export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^]*';
    else if (c === '?') re += '[^]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRegex(pattern[++i]!);
    else if (c === '[') {
      const end = classEnd(pattern, i);
      if (end < 0) re += '\\[';
      else {
        re += classToRegex(pattern.slice(i + 1, end));
        i = end;
      }
    } else re += escapeRegex(c);
  }
  return new RegExp(`^${re}$`);
}

export function fnmatch(pattern: string, text: string): boolean {
  return hasWildcard(pattern) ? globToRegExp(pattern).test(text) : pattern === text;
}
