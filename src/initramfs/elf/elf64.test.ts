import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { BASE, makeElf } from '../testdata/elf.js';
import { EM_X86_64, parseElf64 } from './elf64.js';

const sample = makeElf({ interp: '/lib64/ld-linux-x86-64.so.2', needed: ['libfoo.so.1', 'libc.so.6'], rpath: '$ORIGIN/../lib:/opt/x', runpath: '/opt/y' });

test('a synthetic executable gives its interpreter, needed libraries and search paths', () => {
  const r = parseElf64(sample);
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.deepEqual(r.elf, {
    type: 2,
    machine: EM_X86_64,
    dynamic: true,
    interpreter: '/lib64/ld-linux-x86-64.so.2',
    needed: ['libfoo.so.1', 'libc.so.6'],
    rpath: ['$ORIGIN/../lib', '/opt/x'],
    runpath: ['/opt/y'],
  });
});

test('a Buffer inside a larger pooled ArrayBuffer is read at its own byteOffset', () => {
  const big = Buffer.alloc(sample.length + 13, 0xee);
  sample.copy(big, 13);
  const r = parseElf64(big.subarray(13));
  assert.ok(r.ok && r.elf.needed.includes('libc.so.6'));
});

test('malformed files give an error result: truncated, bad offsets, huge counts, no NUL', () => {
  const mutate = (f: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(sample);
    f(b);
    return b;
  };
  const dynAt = Number(sample.readBigUInt64LE(64 + 56 + 8));
  const cases: Record<string, Buffer> = {
    empty: Buffer.alloc(0),
    'not ELF': Buffer.from('#!/bin/sh\necho hi\n'),
    'ELF32': mutate((b) => (b[4] = 1)),
    'truncated header': sample.subarray(0, 40),
    'truncated program headers': sample.subarray(0, 100),
    'truncated dynamic section': sample.subarray(0, dynAt + 8),
    'e_phoff past the end': mutate((b) => b.writeBigUInt64LE(1n << 40n, 32)),
    'e_phoff beyond 2^53': mutate((b) => b.writeBigUInt64LE(1n << 60n, 32)),
    'e_phnum huge': mutate((b) => b.writeUInt16LE(0xfffe, 56)),
    'e_phnum PN_XNUM': mutate((b) => b.writeUInt16LE(0xffff, 56)),
    'e_phentsize too small': mutate((b) => b.writeUInt16LE(8, 54)),
    'PT_DYNAMIC size huge': mutate((b) => b.writeBigUInt64LE(1n << 40n, 64 + 56 + 32)),
    'PT_INTERP past the end': mutate((b) => b.writeBigUInt64LE(1n << 30n, 64 + 112 + 8)),
    'DT_STRTAB outside every PT_LOAD': mutate((b) => b.writeBigUInt64LE(0x10n, dynAt + 8)),
    'DT_STRSZ past the end': mutate((b) => b.writeBigUInt64LE(1n << 32n, dynAt + 16 + 8)),
    'DT_NEEDED offset outside the strings': mutate((b) => b.writeBigUInt64LE(1n << 20n, dynAt + 32 + 8)),
    'string without NUL': mutate((b) => {
      const strsz = Number(b.readBigUInt64LE(dynAt + 16 + 8));
      const strAt = Number(b.readBigUInt64LE(dynAt + 8)) - BASE;
      b[strAt + strsz - 1] = 0x41;
    }),
  };
  for (const [name, bytes] of Object.entries(cases)) {
    const r = parseElf64(bytes);
    assert.equal(r.ok, false, name);
  }
});

test('random corruption of a real header never throws', () => {
  const base = existsSync('/usr/bin/ls') ? readFileSync('/usr/bin/ls') : sample;
  let seed = 1;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let i = 0; i < 500; i++) {
    const b = Buffer.from(base.subarray(0, Math.min(base.length, 1 + rand(base.length))));
    for (let j = 0; j < 4; j++) b[rand(Math.min(b.length, 4096))] = rand(256);
    assert.doesNotThrow(() => parseElf64(b));
  }
});

test('real binaries: static busybox has no PT_DYNAMIC, ls names libc', { skip: !existsSync('/bin/busybox') || !existsSync('/usr/bin/ls') }, () => {
  const bb = parseElf64(readFileSync('/bin/busybox'));
  assert.ok(bb.ok);
  assert.equal(bb.elf.dynamic, false);
  assert.equal(bb.elf.interpreter, undefined);
  const ls = parseElf64(readFileSync('/usr/bin/ls'));
  assert.ok(ls.ok);
  assert.equal(ls.elf.interpreter, '/lib64/ld-linux-x86-64.so.2');
  assert.ok(ls.elf.needed.includes('libc.so.6'));
});
