import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type RootLink, type RootResolution, resolveInRoot } from '../root-path.js';
import { MODULE_DIRS } from '../kernel-version.js';
import { type AliasIndex, buildAliasIndex } from './alias-index.js';
import {
  parseBuiltinModinfo,
  parseModulesAlias,
  parseModulesBuiltin,
  parseModulesDep,
  parseModulesOrder,
  parseModulesSoftdep,
} from './index-files.js';
import { moduleNameFromPath, normalizeModuleName } from './names.js';
import { isCode } from '../../files/error-code.js';

export interface ModuleInfo {
  /** Normalized name: "xen_netfront". */
  name: string;
  /** Relative to the modules directory: "kernel/drivers/net/xen-netfront.ko". */
  path: string;
  /** Paths of every module it needs, in modules.dep order. */
  deps: string[];
}

/** One kernel's module tree, read from its depmod indexes. */
export interface ModuleTree {
  kernelVersion: string;
  /** The image root the tree was read from. */
  root: string;
  /** Where the modules are inside the root, after its own symlinks ("/usr/lib/modules/VERSION" on merged /usr). */
  dir: string;
  hostDir: string;
  /** Symlinks crossed to reach `dir`; the archive needs them for "/lib/modules" to work. */
  dirLinks: RootLink[];
  modules: Map<string, ModuleInfo>;
  softdeps: Map<string, { pre: string[]; post: string[] }>;
  aliases: AliasIndex;
  /** Names of the modules compiled into the kernel. */
  builtin: Set<string>;
  /** modules.builtin as read. */
  builtinPaths: string[];
  builtinAliases: AliasIndex;
  /** modules.order paths; the generated indexes keep this order. */
  order: string[];
  /** modules.devname lines by module name. */
  devnames: Map<string, string[]>;
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if (isCode(e, 'ENOENT')) return undefined;
    throw e;
  }
}

/** Reads ROOT/lib/modules/VERSION (or ROOT/usr/lib/modules/VERSION): the image's own modules, never the host's (unless ROOT is "/"). */
export async function loadModuleTree(root: string, kernelVersion: string): Promise<ModuleTree> {
  if (kernelVersion === '' || kernelVersion.includes('/')) {
    throw new Error(`Cannot read kernel modules: invalid kernel version "${kernelVersion}"`);
  }
  // /lib/modules first (merged /usr: the same directory), then a /usr/lib/modules that /lib does not link to.
  let where: RootResolution | undefined;
  for (const base of MODULE_DIRS) {
    const r = await resolveInRoot(root, `${base}/${kernelVersion}`);
    if (r.ok && r.stats.isDirectory()) {
      where = r;
      break;
    }
  }
  if (where === undefined || !where.ok) {
    throw new Error(
      `Cannot read kernel modules for ${kernelVersion}: neither ${join(root, 'lib/modules', kernelVersion)} nor ${join(root, 'usr/lib/modules', kernelVersion)} is a directory` +
        ' (the image needs its own kernel package)',
    );
  }
  const hostDir = where.hostPath;
  const text = async (name: string): Promise<string> => (await readOptional(join(hostDir, name)))?.toString('utf8') ?? '';
  const depText = await readOptional(join(hostDir, 'modules.dep'));
  if (depText === undefined) {
    throw new Error(
      `Cannot read kernel modules for ${kernelVersion}: ${join(hostDir, 'modules.dep')} is missing (run depmod ${kernelVersion} in the image)`,
    );
  }
  const modules = new Map<string, ModuleInfo>();
  for (const { path, deps } of parseModulesDep(depText.toString('utf8'))) {
    const name = moduleNameFromPath(path);
    // depmod lists a name once; should two files claim it, the first wins as in kmod.
    if (!modules.has(name)) modules.set(name, { name, path, deps });
  }
  const softdeps = new Map<string, { pre: string[]; post: string[] }>();
  for (const s of parseModulesSoftdep(await text('modules.softdep'))) {
    const entry = softdeps.get(s.module) ?? { pre: [], post: [] };
    entry.pre.push(...s.pre);
    entry.post.push(...s.post);
    softdeps.set(s.module, entry);
  }
  const devnames = new Map<string, string[]>();
  for (const line of (await text('modules.devname')).split('\n')) {
    const first = line.trim().split(/\s+/)[0];
    if (first === undefined || first === '' || first.startsWith('#')) continue;
    const name = normalizeModuleName(first);
    devnames.set(name, [...(devnames.get(name) ?? []), line.trim()]);
  }
  const modinfo = await readOptional(join(hostDir, 'modules.builtin.modinfo'));
  const builtinPaths = parseModulesBuiltin(await text('modules.builtin'));
  return {
    kernelVersion,
    root,
    dir: where.path,
    hostDir,
    dirLinks: where.links,
    modules,
    softdeps,
    aliases: buildAliasIndex(parseModulesAlias(await text('modules.alias'))),
    builtin: new Set(builtinPaths.map(moduleNameFromPath)),
    builtinPaths,
    builtinAliases: buildAliasIndex(modinfo === undefined ? [] : parseBuiltinModinfo(modinfo)),
    order: parseModulesOrder(await text('modules.order')),
    devnames,
  };
}
