import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArchiveLayout } from './archive-layout.js';

const describe = (l: ArchiveLayout): string[] =>
  l.entries().map((e) => `${e.type} ${e.path}${e.type === 'symlink' ? ` -> ${e.target}` : ''}${'mode' in e ? ` ${e.mode.toString(8)}` : ''}`);

test('paths under a symlinked directory land in its target; parents come first, sorted', () => {
  const l = new ArchiveLayout();
  l.addSymlink('lib', 'usr/lib');
  l.addSymlink('/bin', '/usr/bin');
  l.addFile('/lib/modules/6.1/modules.dep', 0o644, Buffer.from('x'), 'gen');
  l.addFile('bin/busybox', 0o755, Buffer.from('bb'), '/bin/busybox');
  l.addDir('bin'); // through the link: usr/bin, already there
  l.addDir('tmp', 0o1777);
  l.addSymlink('bin/sh', '/bin/busybox');
  l.addDevice('dev/console', 0o600, 'char', 5, 1);
  assert.deepEqual(describe(l), [
    'symlink bin -> /usr/bin',
    'dir dev 755',
    'device dev/console 600',
    'symlink lib -> usr/lib',
    'dir tmp 1777',
    'dir usr 755',
    'dir usr/bin 755',
    'file usr/bin/busybox 755',
    'symlink usr/bin/sh -> /bin/busybox',
    'dir usr/lib 755',
    'dir usr/lib/modules 755',
    'dir usr/lib/modules/6.1 755',
    'file usr/lib/modules/6.1/modules.dep 644',
  ]);
  assert.equal(l.has('/bin/sh'), true);
  assert.equal(l.has('/sbin/sh'), false);
});

test('the same thing twice is fine; different things at one path are an error', () => {
  const l = new ArchiveLayout();
  l.addSymlink('lib', 'usr/lib');
  l.addSymlink('lib', 'usr/lib');
  l.addFile('etc/x', 0o644, Buffer.from('1'), 'a');
  l.addFile('etc/x', 0o644, Buffer.from('1'), 'a');
  assert.throws(() => l.addFile('etc/x', 0o644, Buffer.from('2'), 'b'), /Cannot place etc\/x in the archive as a file from b: it is already a file from a/);
  assert.throws(() => l.addSymlink('lib', 'lib64'), /already a symlink to usr\/lib/);
  assert.throws(() => l.addDir('etc/x'), /already a file from a/);
  assert.throws(() => l.addFile('etc/x/y', 0o644, Buffer.from(''), 'c'), /etc\/x is a file, not a directory/);
  l.addSymlink('a', 'b');
  l.addSymlink('b', 'a');
  assert.throws(() => l.addFile('a/f', 0o644, Buffer.from(''), 'd'), /too many levels of symbolic links/);
});
