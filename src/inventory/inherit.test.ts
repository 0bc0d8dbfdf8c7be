import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InheritError, resolveProfiles, type RawProfile } from './inherit.js';

const base = { kernel: '/k', initrd: ['/i'], cmdline: 'console=ttyS0 quiet', loader: 'ipxe', root: { mode: 'live', image: '/a.sqfs' } };

const cases: Array<{ name: string; raw: Record<string, RawProfile | null>; want: Record<string, Record<string, unknown>> }> = [
  { name: 'no inheritance: unchanged', raw: { base }, want: { base } },
  {
    name: 'child overrides kernel, keeps the rest',
    raw: { base, new: { inherits: 'base', kernel: '/k2' } },
    want: { base, new: { ...base, kernel: '/k2' } },
  },
  {
    name: 'cmdline is replaced, not appended',
    raw: { base, debug: { inherits: 'base', cmdline: 'rd.debug' } },
    want: { base, debug: { ...base, cmdline: 'rd.debug' } },
  },
  {
    name: 'root is replaced whole, not merged',
    raw: { base, nfs: { inherits: 'base', root: { mode: 'nfs', dir: '/d' } } },
    want: { base, nfs: { ...base, root: { mode: 'nfs', dir: '/d' } } },
  },
  {
    name: 'a chain, in any declaration order',
    raw: { c: { inherits: 'b', loader: 'pxelinux' }, b: { inherits: 'base', cmdline: 'b' }, base },
    want: { c: { ...base, cmdline: 'b', loader: 'pxelinux' }, b: { ...base, cmdline: 'b' }, base },
  },
  {
    name: 'null drops an inherited key; an empty profile is its parent',
    raw: { base, bare: { inherits: 'base', root: null }, same: { inherits: 'base' }, empty: null },
    want: { base, bare: { kernel: '/k', initrd: ['/i'], cmdline: 'console=ttyS0 quiet', loader: 'ipxe' }, same: base, empty: {} },
  },
];

for (const c of cases) {
  test(`resolveProfiles: ${c.name}`, () => {
    assert.deepEqual(Object.fromEntries(resolveProfiles(c.raw)), c.want);
  });
}

const failures: Array<{ name: string; raw: Record<string, RawProfile>; error: string }> = [
  { name: 'missing parent', raw: { a: { inherits: 'ghost' } }, error: 'profiles.a.inherits: names no profile "ghost" (known: a)' },
  { name: 'self', raw: { a: { inherits: 'a' } }, error: 'profiles inherit in a cycle: a → a' },
  { name: 'cycle of three', raw: { x: { kernel: '/k' }, a: { inherits: 'b' }, b: { inherits: 'c' }, c: { inherits: 'a' } }, error: 'profiles inherit in a cycle: a → b → c → a' },
  { name: 'cycle reached through a chain', raw: { top: { inherits: 'a' }, a: { inherits: 'b' }, b: { inherits: 'a' } }, error: 'profiles inherit in a cycle: a → b → a' },
  { name: 'not a name', raw: { a: { inherits: 3 } }, error: 'profiles.a.inherits: must be a profile name' },
];

for (const f of failures) {
  test(`resolveProfiles refuses: ${f.name}`, () => {
    assert.throws(() => resolveProfiles(f.raw), (e: unknown) => e instanceof InheritError && e.message === f.error);
  });
}

test('resolveProfiles accepts a Map and does not modify its input', () => {
  const raw = new Map<string, RawProfile>([['base', base], ['kid', { inherits: 'base', cmdline: 'x' }]]);
  const out = resolveProfiles(raw);
  assert.equal(out.get('kid')?.['cmdline'], 'x');
  assert.deepEqual(raw.get('kid'), { inherits: 'base', cmdline: 'x' });
  assert.notEqual(out.get('base'), base);
});
