import type { CpioEntry, FileData } from './cpio.js';
import { splitPath } from './root-path.js';

type Node =
  | { type: 'dir'; mode: number }
  | { type: 'file'; mode: number; data: FileData; source: string }
  | { type: 'symlink'; target: string }
  | { type: 'device'; mode: number; kind: 'char' | 'block'; major: number; minor: number };

const MAX_LINKS = 40;

/**
 * The file tree of an archive being assembled. Paths are placed where they would land once
 * unpacked: with "lib -> usr/lib" in the tree, "lib/modules/x" is stored as "usr/lib/modules/x",
 * because an entry under a symlinked directory would be written through the link by the kernel
 * and refused by `cpio -i`. Parents are created as needed, so entries() lists every directory
 * before its contents, in a sorted, reproducible order.
 */
export class ArchiveLayout {
  readonly #nodes = new Map<string, Node>();

  /** Canonical archive path ("usr/lib/x") of `path`; the last component is followed when `followLast`. */
  canonical(path: string, followLast = false): string {
    const pending = splitPath(path);
    const resolved: string[] = [];
    let followed = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const here = [...resolved, part].join('/');
      const node = this.#nodes.get(here);
      if (node?.type === 'symlink' && (pending.length > 0 || followLast)) {
        if (++followed > MAX_LINKS) throw new Error(`Cannot place ${path} in the archive: too many levels of symbolic links`);
        if (node.target.startsWith('/')) resolved.length = 0;
        pending.unshift(...splitPath(node.target));
        continue;
      }
      resolved.push(part);
    }
    if (resolved.length === 0) throw new Error(`Cannot place "${path}" in the archive: it names the archive root`);
    return resolved.join('/');
  }

  has(path: string): boolean {
    return this.#nodes.has(this.canonical(path));
  }

  /** The `source` of the file at `path`, if a file is there. */
  fileSource(path: string): string | undefined {
    const node = this.#nodes.get(this.canonical(path));
    return node?.type === 'file' ? node.source : undefined;
  }

  addDir(path: string, mode = 0o755): void {
    const at = this.canonical(path, true);
    const existing = this.#nodes.get(at);
    if (existing !== undefined && existing.type !== 'dir') this.#conflict(path, existing, 'a directory');
    this.#parents(at);
    if (existing === undefined) this.#nodes.set(at, { type: 'dir', mode });
  }

  /** `source` identifies the content (a host path); adding the same path from the same source again is a no-op. */
  addFile(path: string, mode: number, data: FileData, source: string): void {
    const at = this.canonical(path);
    const existing = this.#nodes.get(at);
    if (existing !== undefined) {
      if (existing.type === 'file' && existing.source === source) return;
      this.#conflict(path, existing, `a file from ${source}`);
    }
    this.#parents(at);
    this.#nodes.set(at, { type: 'file', mode, data, source });
  }

  addSymlink(path: string, target: string): void {
    const at = this.canonical(path);
    const existing = this.#nodes.get(at);
    if (existing !== undefined) {
      if (existing.type === 'symlink' && existing.target === target) return;
      this.#conflict(path, existing, `a symlink to ${target}`);
    }
    this.#parents(at);
    this.#nodes.set(at, { type: 'symlink', target });
  }

  addDevice(path: string, mode: number, kind: 'char' | 'block', major: number, minor: number): void {
    const at = this.canonical(path);
    if (this.#nodes.has(at)) this.#conflict(path, this.#nodes.get(at)!, 'a device');
    this.#parents(at);
    this.#nodes.set(at, { type: 'device', mode, kind, major, minor });
  }

  get size(): number {
    return this.#nodes.size;
  }

  /** Every entry, sorted by path; a parent sorts before its children since it is their prefix. */
  entries(): CpioEntry[] {
    return [...this.#nodes.keys()].sort(byBytes).map((path): CpioEntry => {
      const n = this.#nodes.get(path)!;
      switch (n.type) {
        case 'dir':
          return { type: 'dir', path, mode: n.mode };
        case 'file':
          return { type: 'file', path, mode: n.mode, data: n.data };
        case 'symlink':
          return { type: 'symlink', path, target: n.target };
        case 'device':
          return { type: 'device', path, mode: n.mode, kind: n.kind, major: n.major, minor: n.minor };
      }
    });
  }

  #parents(at: string): void {
    const parts = at.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const node = this.#nodes.get(dir);
      if (node === undefined) this.#nodes.set(dir, { type: 'dir', mode: 0o755 });
      else if (node.type !== 'dir') throw new Error(`Cannot place ${at} in the archive: ${dir} is a ${node.type}, not a directory`);
    }
  }

  #conflict(path: string, existing: Node, wanted: string): never {
    const what = existing.type === 'symlink' ? `a symlink to ${existing.target}` : existing.type === 'file' ? `a file from ${existing.source}` : `a ${existing.type}`;
    throw new Error(`Cannot place ${path} in the archive as ${wanted}: it is already ${what}`);
  }
}

/** Byte order of the UTF-8 names, so the archive order does not depend on the locale. */
function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
