import { plainModulePath } from './names.js';
import { lookupModule } from './resolve.js';
import type { ModuleInfo, ModuleTree } from './tree.js';

export interface IndexFile {
  /** Relative to the modules directory. */
  name: string;
  content: string;
}

/**
 * Text indexes for the modules an archive carries, in depmod's formats, for busybox modprobe.
 *
 * busybox 1.35 reads only modules.dep (required; its dependency lists drive the load order),
 * modules.alias (when a name is not a module: "fs-overlay", a device's modalias) and
 * /etc/modprobe.{conf,d}; it has no "softdep". So a module's "pre:" soft dependencies are
 * written into its modules.dep line: busybox then loads them first, which is what kmod would do.
 * "post:" ones cannot be expressed there; they stay in modules.softdep.
 *
 * kmod's modprobe ignores these text files and needs the *.bin indexes; an initramfs that
 * carries kmod must run depmod at boot.
 *
 * Paths are those of the archive, where every module is a plain ".ko" (module-file.ts):
 * "e1000.ko.xz" in the image's modules.dep is "e1000.ko" here.
 */
export function moduleIndexFiles(tree: ModuleTree, modules: readonly ModuleInfo[]): IndexFile[] {
  const included = new Map(modules.map((m) => [m.name, m]));
  const rank = new Map(tree.order.map((path, i) => [path, i]));
  // modules.order first (the kernel's own order, which busybox's -a and kmod keep), strays after.
  const ordered = [...modules].sort((a, b) => (rank.get(a.path) ?? Infinity) - (rank.get(b.path) ?? Infinity) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const depLine = (m: ModuleInfo): string => {
    const pre: string[] = [];
    for (const soft of tree.softdeps.get(m.name)?.pre ?? []) {
      const found = lookupModule(tree, soft);
      // An alias several modules claim ("crypto-crc32c": crc32c-intel and crc32c_generic) names
      // alternatives, some of which refuse some machines (crc32c-intel without SSE4.2, as on
      // QEMU's TCG CPU). busybox stops at the first dependency that fails to load, so such
      // alternatives stay out of modules.dep: the kernel asks modprobe for the alias when it
      // needs it (request_module), and busybox then tries each module the alias names.
      if (found.kind !== 'modules' || found.names.length > 1) continue;
      for (const name of found.names) {
        const dep = included.get(name);
        if (dep !== undefined && dep !== m) pre.push(dep.path, ...dep.deps);
      }
    }
    const all = [...pre, ...m.deps].map(plainModulePath);
    const self = plainModulePath(m.path);
    // busybox loads the list from the end; keeping each path's last occurrence keeps it early enough.
    const deps = all.filter((p, i) => all.lastIndexOf(p) === i && p !== self);
    return deps.length === 0 ? `${self}:` : `${self}: ${deps.join(' ')}`;
  };

  // When one device's alias names several modules (QEMU's usb-net: cdc_ether and cdc_subset),
  // the first loaded binds it, so order decides. kmod loads them in file order. busybox 1.35
  // prepends each match to its list (llist_add_to), so it loads them in reverse file order:
  // written reversed, busybox loads them as kmod (and udev) would.
  const aliasLines = tree.aliases.lines.filter((a) => included.has(a.module)).map((a) => `alias ${a.pattern} ${a.module}`).reverse();

  const softdepLines: string[] = [];
  for (const m of ordered) {
    const s = tree.softdeps.get(m.name);
    if (s === undefined) continue;
    softdepLines.push(`softdep ${m.name}${s.pre.length > 0 ? ` pre: ${s.pre.join(' ')}` : ''}${s.post.length > 0 ? ` post: ${s.post.join(' ')}` : ''}`);
  }

  const text = (header: string | undefined, lines: readonly string[]): string =>
    [...(header === undefined ? [] : [header]), ...lines].map((l) => `${l}\n`).join('');
  return [
    { name: 'modules.alias', content: text('# Aliases of the modules in this initramfs.', aliasLines) },
    { name: 'modules.builtin', content: text(undefined, tree.builtinPaths) },
    { name: 'modules.dep', content: text(undefined, ordered.map(depLine)) },
    { name: 'modules.devname', content: text('# Device nodes to trigger on-demand module loading.', ordered.flatMap((m) => tree.devnames.get(m.name) ?? [])) },
    { name: 'modules.order', content: text(undefined, ordered.map((m) => plainModulePath(m.path))) },
    { name: 'modules.softdep', content: text('# Soft dependencies of the modules in this initramfs.', softdepLines) },
  ];
}
