import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { makeElf } from './elf.js';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A throwaway image root for tests; remove() deletes it. */
export interface FakeRoot {
  root: string;
  file(path: string, content?: string | Uint8Array, mode?: number): void;
  link(path: string, target: string): void;
  remove(): void;
}

export function fakeRoot(prefix = 'diskless-fake-root-'): FakeRoot {
  const root = mkdtempSync(join(tmpdir(), prefix));
  return {
    root,
    file(path, content = '', mode = 0o644) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content, { mode });
    },
    link(path, target) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      symlinkSync(target, join(root, path));
    },
    remove() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface FakeModule {
  path: string;
  deps?: string[];
}

/**
 * A kernel module tree as depmod would leave it, with tiny fake .ko files (ELF files without sections). `merged` puts it under
 * usr/lib with a "lib -> usr/lib" link, as on a merged-/usr Debian.
 */
export function fakeModuleTree(
  fake: FakeRoot,
  version: string,
  spec: {
    modules: FakeModule[];
    aliases?: string[];
    softdeps?: string[];
    builtin?: string[];
    builtinModinfo?: string[];
    merged?: boolean;
  },
): void {
  if (spec.merged === true) fake.link('lib', 'usr/lib');
  const dir = `${spec.merged === true ? 'usr/lib' : 'lib'}/modules/${version}`;
  const lines = (l: string[]): string => l.map((x) => `${x}\n`).join('');
  fake.file(`${dir}/modules.dep`, lines(spec.modules.map((m) => `${m.path}:${(m.deps ?? []).map((d) => ` ${d}`).join('')}`)));
  fake.file(`${dir}/modules.order`, lines(spec.modules.map((m) => m.path)));
  fake.file(`${dir}/modules.alias`, lines(['# Aliases extracted from modules themselves.', ...(spec.aliases ?? [])]));
  fake.file(`${dir}/modules.softdep`, lines(spec.softdeps ?? []));
  fake.file(`${dir}/modules.builtin`, lines(spec.builtin ?? []));
  fake.file(`${dir}/modules.builtin.modinfo`, (spec.builtinModinfo ?? []).map((x) => `${x}\0`).join(''));
  // An ELF header with nothing in it, as the builder reads each module's .modinfo.
  for (const m of spec.modules) fake.file(`${dir}/${m.path}`, Buffer.concat([makeElf({}), Buffer.from(`fake module ${m.path}\n`)]));
}

/**
 * Real modules of the host's kernel `version` (with everything they need, as modprobe resolves
 * them) copied into the fake root as a distribution would ship them: compressed with `how`
 * ("xz" → "e1000.ko.xz"), modules.dep, modules.alias and modules.softdep naming the compressed
 * files. Returns the host paths of the plain modules by their path in the tree (uncompressed).
 */
export function hostModulesInto(
  fake: FakeRoot,
  version: string,
  names: readonly string[],
  how: 'gzip' | 'xz' | 'zstd' | 'none',
  dir = 'usr/lib/modules',
): Map<string, string> {
  const hostDir = `/lib/modules/${version}`;
  const ext = how === 'none' ? '' : how === 'gzip' ? '.gz' : how === 'xz' ? '.xz' : '.zst';
  const wanted = new Set<string>();
  for (const n of names) {
    const r = spawnSync('modprobe', ['--show-depends', '-S', version, n], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`modprobe --show-depends ${n}: ${r.stderr}`);
    for (const m of r.stdout.matchAll(/^insmod \/lib\/modules\/[^/]+\/(\S+)/gm)) wanted.add(m[1]!);
  }
  const dep = readFileSync(join(hostDir, 'modules.dep'), 'utf8').split('\n').filter((l) => wanted.has(l.slice(0, l.indexOf(':'))));
  const withExt = (line: string): string => line.replace(/\.ko\b/g, `.ko${ext}`);
  fake.file(`${dir}/${version}/modules.dep`, dep.map((l) => `${withExt(l)}\n`).join(''));
  fake.file(`${dir}/${version}/modules.order`, [...wanted].map((p) => `${p}\n`).join(''));
  const moduleNames = new Set([...wanted].map((p) => p.slice(p.lastIndexOf('/') + 1, -'.ko'.length).replace(/-/g, '_')));
  const pick = (file: string, test: (words: string[]) => boolean): string =>
    readFileSync(join(hostDir, file), 'utf8').split('\n').filter((l) => test(l.split(/\s+/))).map((l) => `${l}\n`).join('');
  fake.file(`${dir}/${version}/modules.alias`, pick('modules.alias', (w) => w[0] === 'alias' && moduleNames.has((w[2] ?? '').replace(/-/g, '_'))));
  fake.file(`${dir}/${version}/modules.softdep`, pick('modules.softdep', (w) => w[0] === 'softdep' && moduleNames.has((w[1] ?? '').replace(/-/g, '_'))));
  fake.file(`${dir}/${version}/modules.builtin`, readFileSync(join(hostDir, 'modules.builtin')));
  const plain = new Map<string, string>();
  for (const p of wanted) {
    const src = join(hostDir, p);
    const bytes = readFileSync(src);
    const packed = how === 'none' ? bytes
      : how === 'gzip' ? gzipSync(bytes)
      : execFileSync(how === 'xz' ? 'xz' : 'zstd', how === 'xz' ? ['-c', '--check=crc32'] : ['-c', '-q'], { input: bytes, maxBuffer: 64 * 1024 * 1024 });
    fake.file(`${dir}/${version}/${p}${ext}`, packed);
    plain.set(p, src);
  }
  return plain;
}
