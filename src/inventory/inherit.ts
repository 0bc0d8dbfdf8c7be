/**
 * Profile inheritance: `inherits: PARENT` starts a profile from its parent's settings. A child's
 * key replaces the parent's whole value (cmdline is replaced, not appended; an initrd list or a
 * root block is replaced, not merged), so what a profile boots can be read off its own chain
 * without merge rules. A child key set to null removes the inherited value.
 */
export type RawProfile = Readonly<Record<string, unknown>>;
export type ResolvedProfile = Record<string, unknown>;

export class InheritError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InheritError';
  }
}

export function resolveProfiles(raw: ReadonlyMap<string, RawProfile | null | undefined> | Readonly<Record<string, RawProfile | null | undefined>>): Map<string, ResolvedProfile> {
  const input = new Map<string, RawProfile>();
  for (const [name, p] of raw instanceof Map ? raw : Object.entries(raw)) input.set(name, p ?? {});
  const done = new Map<string, ResolvedProfile>();

  const resolve = (name: string, chain: string[]): ResolvedProfile => {
    const cached = done.get(name);
    if (cached) return cached;
    const at = chain.indexOf(name);
    if (at >= 0) throw new InheritError(`profiles inherit in a cycle: ${[...chain.slice(at), name].join(' → ')}`);
    const own = input.get(name)!;
    const parentName = own['inherits'];
    let base: ResolvedProfile = {};
    if (parentName !== undefined && parentName !== null) {
      if (typeof parentName !== 'string') throw new InheritError(`profiles.${name}.inherits: must be a profile name`);
      if (!input.has(parentName)) {
        throw new InheritError(`profiles.${name}.inherits: names no profile "${parentName}" (known: ${[...input.keys()].join(', ')})`);
      }
      base = resolve(parentName, [...chain, name]);
    }
    const out: ResolvedProfile = { ...base };
    for (const [k, v] of Object.entries(own)) {
      if (k === 'inherits') continue;
      if (v === null) delete out[k];
      else out[k] = v;
    }
    done.set(name, out);
    return out;
  };

  const result = new Map<string, ResolvedProfile>();
  for (const name of input.keys()) result.set(name, resolve(name, []));
  return result;
}
