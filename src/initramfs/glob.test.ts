import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fnmatch, hasWildcard, literalPrefix } from './glob.js';

const cases: Array<[pattern: string, text: string, matches: boolean]> = [
  ['fs_overlay', 'fs_overlay', true],
  ['fs_overlay', 'fs_overlayx', false],
  ['pci:v00008086d0000100Esv*sd*bc*sc*i*', 'pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00', true],
  ['pci:v00008086d0000100Esv*sd*bc*sc*i*', 'pci:v00008086d0000100Fsv00001AF4sd00001100bc02sc00i00', false],
  // "*" crosses "/" with fnmatch flags 0, as modalias matching needs for "devname:" aliases.
  ['devname:*', 'devname:mapper/control', true],
  ['a?c', 'abc', true],
  ['a?c', 'ac', false],
  ['bc0[2-3]', 'bc03', true],
  ['bc0[2-3]', 'bc04', false],
  ['x[!ab]', 'xc', true],
  ['x[!ab]', 'xa', false],
  ['x[^ab]', 'xb', false],
  ['x[]]', 'x]', true],
  ['x[', 'x[', true],
  ['a\\*', 'a*', true],
  ['a\\*', 'ab', false],
  ['a.c', 'abc', false],
  ['usb:v0BDAp8153d*dc*dsc*dp*ic02isc06ip00in*', 'usb:v0BDAp8153d3000dc00dsc00dp00ic02isc06ip00in01', true],
];

test('fnmatch follows fnmatch(3) with flags 0 (kmod and busybox alias matching)', () => {
  for (const [pattern, text, expected] of cases) {
    assert.equal(fnmatch(pattern, text), expected, `${pattern} vs ${text}`);
  }
});

test('a literal prefix stops at the first wildcard or escape', () => {
  assert.equal(literalPrefix('pci:v00008086d*'), 'pci:v00008086d');
  assert.equal(literalPrefix('fs_overlay'), 'fs_overlay');
  assert.equal(literalPrefix('a\\*b'), 'a');
  assert.equal(hasWildcard('net_pf_17'), false);
  assert.equal(hasWildcard('x[ab]'), true);
});
