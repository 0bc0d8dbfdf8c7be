import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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
 * A kernel module tree as depmod would leave it, with tiny fake .ko files. `merged` puts it under
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
  for (const m of spec.modules) fake.file(`${dir}/${m.path}`, `fake module ${m.path}\n`);
}
