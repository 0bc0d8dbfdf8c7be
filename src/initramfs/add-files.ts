import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchiveLayout } from './archive-layout.js';
import type { CpioEntry, FileData } from './cpio.js';
import { type RootFile, resolveSharedLibraries } from './elf/shared-libraries.js';
import { resolveInRoot } from './root-path.js';

/** Ways files get into an archive layout: from an image root, the host, the init directory. */

/** A host file streamed into the archive when it is written, not read into memory now. */
export function hostFile(path: string, size: number): FileData {
  return { size, stream: () => createReadStream(path) };
}

async function sameContent(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([stat(a), stat(b)]);
  if (x.size !== y.size) return false;
  return (await readFile(a)).equals(await readFile(b));
}

/**
 * Adds files (symlinks crossed on the way, and the files themselves) with their own modes. When
 * the image and the host both supply a path (a host tool's libc), identical files are fine; two
 * different ones cannot share the path, and the build says which.
 */
export async function addRootFiles(layout: ArchiveLayout, files: readonly RootFile[]): Promise<void> {
  for (const f of files) {
    if (f.kind === 'symlink') {
      layout.addSymlink(f.path, f.target);
      continue;
    }
    const existing = layout.fileSource(f.path);
    if (existing !== undefined && existing !== f.hostPath) {
      if (await sameContent(existing, f.hostPath)) continue;
      throw new Error(`Cannot build initramfs: ${f.path} is needed from both ${existing} and ${f.hostPath}, which differ`);
    }
    const st = await stat(f.hostPath);
    layout.addFile(f.path, st.mode & 0o7777, hostFile(f.hostPath, st.size), f.hostPath);
  }
}

/** A binary and everything the loader needs to run it, found inside `root` ("/" for host tools). */
export async function addBinary(layout: ArchiveLayout, root: string, path: string): Promise<void> {
  const where = await resolveInRoot(root, path);
  if (!where.ok || !where.stats.isFile()) {
    throw new Error(`Cannot add binary ${path}: ${where.ok ? 'not a regular file' : where.error} in ${root}`);
  }
  const libs = await resolveSharedLibraries(root, path);
  if (libs.errors.length > 0) throw new Error(`Cannot add binary ${path}: ${libs.errors.join('; ')}`);
  if (libs.missing.length > 0) {
    throw new Error(`Cannot add binary ${path}: ${libs.missing.map((m) => `${m.soname} (needed by ${m.neededBy})`).join(', ')} not found in ${root}`);
  }
  await addRootFiles(layout, [
    ...where.links.map((l): RootFile => ({ kind: 'symlink', ...l })),
    { kind: 'file', path: where.path, hostPath: where.hostPath },
    ...libs.files,
  ]);
}

/** The lead's initramfs/ folder: every file, link and directory at the same place under "/". */
export async function addInitDir(layout: ArchiveLayout, dir: string): Promise<void> {
  const init = await stat(join(dir, 'init')).catch(() => undefined);
  if (init === undefined || !init.isFile()) throw new Error(`Cannot build initramfs: ${join(dir, 'init')} does not exist`);
  if ((init.mode & 0o111) === 0) throw new Error(`Cannot build initramfs: ${join(dir, 'init')} is not executable (the kernel would not run it)`);
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(dir, rel))).sort();
    for (const name of names) {
      const relPath = rel === '' ? name : `${rel}/${name}`;
      const host = join(dir, relPath);
      const st = await lstat(host);
      if (st.isSymbolicLink()) layout.addSymlink(relPath, await readlink(host));
      else if (st.isDirectory()) {
        layout.addDir(relPath, st.mode & 0o7777);
        await walk(relPath);
      } else if (st.isFile()) layout.addFile(relPath, st.mode & 0o7777, hostFile(host, st.size), host);
      else throw new Error(`Cannot build initramfs: ${host} is not a file, directory or symlink`);
    }
  };
  await walk('');
}

export function addEntry(layout: ArchiveLayout, e: CpioEntry): void {
  switch (e.type) {
    case 'dir':
      return layout.addDir(e.path, e.mode);
    case 'file':
      return layout.addFile(e.path, e.mode, e.data, `extra:${e.path}`);
    case 'symlink':
      return layout.addSymlink(e.path, e.target);
    case 'device':
      return layout.addDevice(e.path, e.mode, e.kind, e.major, e.minor);
  }
}
