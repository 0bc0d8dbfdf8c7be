import { matchAlias } from './alias-index.js';
import { moduleNameFromPath, normalizeModuleName } from './names.js';
import type { ModuleInfo, ModuleTree } from './tree.js';

export type ModuleLookup =
  | { kind: 'modules'; names: string[] }
  | { kind: 'builtin'; name: string }
  | { kind: 'unknown' };

/**
 * What a name means to modprobe: a module file, a built-in module, or an alias ("fs-overlay",
 * "net-pf-17", "devname:…", a device's modalias) for one or more of either. Names win over
 * aliases and modules over built-ins, in kmod's lookup order.
 */
export function lookupModule(tree: ModuleTree, name: string): ModuleLookup {
  const plain = normalizeModuleName(name);
  if (tree.modules.has(plain)) return { kind: 'modules', names: [plain] };
  if (tree.builtin.has(plain)) return { kind: 'builtin', name: plain };
  // An alias may name a module depmod did not list (a stale modules.alias): only real ones count.
  const modular = matchAlias(tree.aliases, name).filter((m) => tree.modules.has(m));
  if (modular.length > 0) return { kind: 'modules', names: modular };
  const builtin = matchAlias(tree.builtinAliases, name)[0];
  if (builtin !== undefined) return { kind: 'builtin', name: builtin };
  return { kind: 'unknown' };
}

export interface ResolvedModules {
  /** Module files for the archive, each listed after everything it needs. */
  modules: ModuleInfo[];
  /** Requested names the kernel has built in: satisfied without a file. */
  builtin: string[];
  /** One message per requested name found nowhere. */
  errors: string[];
  /** Optional names and soft dependencies found nowhere; kmod's modprobe skips those too. */
  warnings: string[];
}

export interface ResolveOptions {
  /** Names wanted when the kernel has them; a missing one is a warning, not an error. */
  optional?: readonly string[];
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = row;
  }
  return prev[b.length]!;
}

function suggestions(tree: ModuleTree, name: string): string[] {
  const wanted = normalizeModuleName(name);
  return [...tree.modules.keys(), ...tree.builtin]
    .map((m) => ({ m, d: editDistance(wanted, m) }))
    .filter(({ d }) => d <= Math.min(2, Math.floor(wanted.length / 3)))
    .sort((x, y) => x.d - y.d || x.m.localeCompare(y.m))
    .slice(0, 3)
    .map(({ m }) => m);
}

export function unknownModuleMessage(tree: ModuleTree, name: string): string {
  const near = suggestions(tree, name);
  return (
    `Cannot find kernel module "${name}" for kernel ${tree.kernelVersion}: not in modules.dep, modules.alias or modules.builtin under ${tree.hostDir}` +
    (near.length > 0 ? ` (did you mean ${near.join(', ')}?)` : '')
  );
}

/**
 * The module files that loading `names` with modprobe would load: hard dependencies from
 * modules.dep and soft ones from modules.softdep ("pre:" before the module, "post:" after), in
 * an order where every module comes after what it needs — kmod's probe-list order.
 */
export function resolveModules(tree: ModuleTree, names: readonly string[], options: ResolveOptions = {}): ResolvedModules {
  const result: ResolvedModules = { modules: [], builtin: [], errors: [], warnings: [] };
  const done = new Set<string>();
  const active = new Set<string>();

  const visitName = (name: string, onUnknown: (message: string) => void): void => {
    const found = lookupModule(tree, name);
    if (found.kind === 'unknown') onUnknown(unknownModuleMessage(tree, name));
    else if (found.kind === 'builtin') {
      if (!result.builtin.includes(found.name)) result.builtin.push(found.name);
    } else for (const m of found.names) visit(m);
  };

  const visit = (name: string): void => {
    // A soft dependency may point back at a module being visited; its files are already coming.
    if (done.has(name) || active.has(name)) return;
    const info = tree.modules.get(name);
    if (info === undefined) return;
    active.add(name);
    const soft = tree.softdeps.get(name);
    const softWarning = (m: string): void => void result.warnings.push(`soft dependency of ${name}: ${m}`);
    for (const pre of soft?.pre ?? []) visitName(pre, softWarning);
    // depmod lists the deepest dependencies last; walking backwards reaches them first.
    for (let i = info.deps.length - 1; i >= 0; i--) {
      const dep = moduleNameFromPath(info.deps[i]!);
      if (!tree.modules.has(dep)) result.errors.push(`Cannot load ${name} for kernel ${tree.kernelVersion}: modules.dep names ${info.deps[i]} but lists no entry for it`);
      visit(dep);
    }
    active.delete(name);
    done.add(name);
    result.modules.push(info);
    for (const post of soft?.post ?? []) visitName(post, softWarning);
  };

  for (const name of names) visitName(name, (m) => result.errors.push(m));
  for (const name of options.optional ?? []) visitName(name, (m) => result.warnings.push(m));
  return result;
}
