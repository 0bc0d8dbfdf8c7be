import { readFile } from 'node:fs/promises';
import { dirname, posix } from 'node:path';
import { resolveInRoot } from '../root-path.js';
import { type ElfDynamicInfo, parseElf64 } from './elf64.js';
import { ldSoConfDirs } from './ld-so-conf.js';

/** A path the archive needs so that the path works there: a symlink or a regular file. */
export type RootFile =
  | { kind: 'file'; path: string; hostPath: string }
  | { kind: 'symlink'; path: string; target: string };

export interface SharedLibrary {
  soname: string;
  /** Where the search found it, inside the root: "/lib/x86_64-linux-gnu/libc.so.6". */
  path: string;
  /** The same after every symlink: "/usr/lib/x86_64-linux-gnu/libc.so.6". */
  realPath: string;
  neededBy: string;
}

export interface SharedLibraries {
  /** PT_INTERP as written in the binary; undefined for static binaries. */
  interpreter?: string;
  libraries: SharedLibrary[];
  /** Everything to copy: the interpreter and libraries, and each symlink on the way to them. */
  files: RootFile[];
  missing: Array<{ soname: string; neededBy: string }>;
  /** Files that are not readable ELF64 objects. */
  errors: string[];
}

/**
 * The multiarch and traditional directories the Debian loader searches after ld.so.cache;
 * /lib64 is where the x86-64 ABI puts the loader itself.
 */
export const DEFAULT_LIBRARY_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/lib', '/usr/lib'];

/**
 * The same for arm64 (EM_AARCH64): its Debian loader's multiarch directories. A tree of
 * unpacked arm64 packages has no /etc/ld.so.conf (libc-bin ships it), only these.
 */
const AARCH64_LIBRARY_DIRS = ['/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib', '/usr/lib'];

function defaultLibraryDirs(machine: number): readonly string[] {
  return machine === 183 ? AARCH64_LIBRARY_DIRS : DEFAULT_LIBRARY_DIRS;
}

// Larger objects than this are not shared libraries a boot needs; it keeps a bad path from filling memory.
const MAX_OBJECT_BYTES = 512 * 1024 * 1024;

interface LoadedObject {
  path: string;
  realPath: string;
  elf: ElfDynamicInfo;
  /** DT_RPATHs (expanded) of the objects that led here, searched when this one has no DT_RUNPATH. */
  inheritedRpath: string[];
}

async function readObject(hostPath: string, size: number): Promise<{ ok: true; elf: ElfDynamicInfo } | { ok: false; error: string }> {
  if (size > MAX_OBJECT_BYTES) return { ok: false, error: `${size} bytes is too large for a shared object` };
  const parsed = parseElf64(await readFile(hostPath));
  return parsed.ok ? { ok: true, elf: parsed.elf } : parsed;
}

/** "$ORIGIN" and "${ORIGIN}" are the directory of the object itself; other tokens are left unresolved. */
function expandOrigin(dir: string, object: LoadedObject): string | undefined {
  const expanded = dir.replace(/\$\{ORIGIN\}|\$ORIGIN/g, dirname(object.realPath));
  return expanded.includes('$') || !expanded.startsWith('/') ? undefined : posix.normalize(expanded);
}

/**
 * The program interpreter and every shared library `binaryPath` needs, found the way the
 * dynamic loader finds them but entirely inside `root`: DT_RPATH (of the object and those that
 * loaded it, when it has no DT_RUNPATH), DT_RUNPATH, the image's ld.so.conf directories, then
 * the loader's default directories for its machine. A library of another class or machine is skipped as the loader skips it.
 * Never runs the binary or ldd: the image may be for another machine, or not trusted.
 */
export async function resolveSharedLibraries(root: string, binaryPath: string): Promise<SharedLibraries> {
  const result: SharedLibraries = { libraries: [], files: [], missing: [], errors: [] };
  const filePaths = new Set<string>();
  const addFiles = (where: { path: string; hostPath: string; links: Array<{ path: string; target: string }> }): void => {
    for (const l of where.links) {
      if (!filePaths.has(l.path)) {
        filePaths.add(l.path);
        result.files.push({ kind: 'symlink', path: l.path, target: l.target });
      }
    }
    if (!filePaths.has(where.path)) {
      filePaths.add(where.path);
      result.files.push({ kind: 'file', path: where.path, hostPath: where.hostPath });
    }
  };

  const binary = await resolveInRoot(root, binaryPath);
  if (!binary.ok || !binary.stats.isFile()) {
    result.errors.push(`Cannot read ${binaryPath} in ${root}: ${binary.ok ? 'not a regular file' : binary.error}`);
    return result;
  }
  const top = await readObject(binary.hostPath, binary.stats.size);
  if (!top.ok) {
    result.errors.push(`Cannot read ${binaryPath} in ${root}: ${top.error}`);
    return result;
  }
  if (!top.elf.dynamic) return result;

  const loaded = new Map<string, LoadedObject>();
  const queue: LoadedObject[] = [{ path: binary.path, realPath: binary.path, elf: top.elf, inheritedRpath: [] }];
  const machine = top.elf.machine;

  if (top.elf.interpreter !== undefined) {
    result.interpreter = top.elf.interpreter;
    const interp = await resolveInRoot(root, top.elf.interpreter);
    if (!interp.ok || !interp.stats.isFile()) {
      result.missing.push({ soname: top.elf.interpreter, neededBy: binaryPath });
    } else {
      addFiles(interp);
      const parsed = await readObject(interp.hostPath, interp.stats.size);
      // libc lists the loader by soname; the loaded interpreter already satisfies it.
      if (parsed.ok) loaded.set(parsed.elf.soname ?? top.elf.interpreter.slice(top.elf.interpreter.lastIndexOf('/') + 1), { path: interp.path, realPath: interp.path, elf: parsed.elf, inheritedRpath: [] });
    }
  }

  const confDirs = await ldSoConfDirs(root);
  while (queue.length > 0) {
    const object = queue.shift()!;
    const expand = (list: readonly string[]): string[] => list.map((d) => expandOrigin(d, object)).filter((d): d is string => d !== undefined);
    // With a DT_RUNPATH, the object's DT_RPATH and those of its loaders are not searched.
    const rpath = object.elf.runpath.length > 0 ? [] : [...expand(object.elf.rpath), ...object.inheritedRpath];
    const search = [...rpath, ...expand(object.elf.runpath), ...confDirs, ...defaultLibraryDirs(machine)].filter((d, i, all) => all.indexOf(d) === i);

    for (const soname of object.elf.needed) {
      if (loaded.has(soname)) continue;
      const candidates = soname.includes('/') ? [soname.startsWith('/') ? soname : posix.join(dirname(object.realPath), soname)] : search.map((d) => posix.join(d, soname));
      let found = false;
      for (const candidate of candidates) {
        const where = await resolveInRoot(root, candidate);
        if (!where.ok || !where.stats.isFile()) continue;
        const parsed = await readObject(where.hostPath, where.stats.size);
        if (!parsed.ok) {
          result.errors.push(`Cannot read ${candidate} in ${root} (needed by ${object.path}): ${parsed.error}`);
          continue;
        }
        if (parsed.elf.machine !== machine) continue;
        const lib: LoadedObject = {
          path: candidate,
          realPath: where.path,
          elf: parsed.elf,
          inheritedRpath: rpath,
        };
        loaded.set(soname, lib);
        result.libraries.push({ soname, path: candidate, realPath: where.path, neededBy: object.path });
        addFiles(where);
        queue.push(lib);
        found = true;
        break;
      }
      if (!found) result.missing.push({ soname, neededBy: object.path });
    }
  }
  return result;
}
