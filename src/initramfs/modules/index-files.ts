import { normalizeModuleName } from './names.js';

/**
 * Parsers for the text indexes depmod writes under /lib/modules/VERSION. Each takes the file's
 * text and never throws: a line it cannot read is skipped, as kmod skips it.
 */

export interface DepLine {
  /** Relative to the modules directory: "kernel/fs/nfs/nfsv4.ko". */
  path: string;
  /**
   * Every module `path` needs, transitively, as depmod lists them: loading them from last to
   * first brings each one in after its own dependencies.
   */
  deps: string[];
}

export interface SoftdepLine {
  /** Normalized module name. */
  module: string;
  pre: string[];
  post: string[];
}

export interface AliasLine {
  /** As written: a name ("fs-overlay") or an fnmatch pattern ("pci:v00008086d0000100Esv*…"). */
  pattern: string;
  /** Normalized module name. */
  module: string;
}

function* lines(text: string): Generator<string[]> {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    yield line.split(/\s+/);
  }
}

/** modules.dep: "kernel/a.ko: kernel/b.ko kernel/c.ko". */
export function parseModulesDep(text: string): DepLine[] {
  const out: DepLine[] = [];
  for (const raw of text.split('\n')) {
    const colon = raw.indexOf(':');
    if (colon <= 0) continue;
    const path = raw.slice(0, colon).trim();
    const deps = raw.slice(colon + 1).trim().split(/\s+/).filter((d) => d !== '');
    out.push({ path, deps });
  }
  return out;
}

/**
 * "softdep MODULE pre: A B post: C": the same syntax in modules.softdep and modprobe.d. Names
 * before any "pre:" or "post:" are ignored, as kmod does ("softdep cifs gcm" in Debian's 6.1
 * loads nothing extra with kmod's modprobe).
 */
export function parseModulesSoftdep(text: string): SoftdepLine[] {
  const out: SoftdepLine[] = [];
  for (const words of lines(text)) {
    if (words[0] !== 'softdep' || words.length < 3) continue;
    const entry: SoftdepLine = { module: normalizeModuleName(words[1]!), pre: [], post: [] };
    let into: string[] | undefined;
    for (const w of words.slice(2)) {
      if (w === 'pre:') into = entry.pre;
      else if (w === 'post:') into = entry.post;
      else into?.push(w);
    }
    if (entry.pre.length + entry.post.length > 0) out.push(entry);
  }
  return out;
}

/** modules.alias (and modprobe.d): "alias PATTERN MODULE". */
export function parseModulesAlias(text: string): AliasLine[] {
  const out: AliasLine[] = [];
  for (const words of lines(text)) {
    if (words[0] !== 'alias' || words.length < 3) continue;
    out.push({ pattern: words[1]!, module: normalizeModuleName(words[2]!) });
  }
  return out;
}

/** modules.builtin: one path per line of a module compiled into the kernel ("kernel/net/packet/af_packet.ko"). */
export function parseModulesBuiltin(text: string): string[] {
  const out: string[] = [];
  for (const words of lines(text)) out.push(words[0]!);
  return out;
}

/** modules.order: module paths in the order the kernel's Makefiles list them. */
export function parseModulesOrder(text: string): string[] {
  const out: string[] = [];
  for (const words of lines(text)) out.push(words[0]!);
  return out;
}

/**
 * modules.builtin.modinfo: "module.key=value" strings separated by NULs. Only the aliases are
 * needed: they let "net-pf-17" or "crypto-crc32c" resolve to a built-in module.
 */
export function parseBuiltinModinfo(bytes: Uint8Array): AliasLine[] {
  const out: AliasLine[] = [];
  for (const record of Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8').split('\0')) {
    const m = /^([^.=]+)\.alias=(.+)$/.exec(record);
    if (m) out.push({ pattern: m[2]!, module: normalizeModuleName(m[1]!) });
  }
  return out;
}
