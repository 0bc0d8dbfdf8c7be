import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { makeElf } from '../testdata/elf.js';
import { fakeRoot } from '../testdata/fake-root.js';
import { resolveSharedLibraries } from './shared-libraries.js';

const hasLdd = spawnSync('ldd', ['--version']).status === 0;

/** ldd's answer, as real paths: the oracle only, never used by the code under test. */
function lddRealPaths(binary: string): string[] {
  const r = spawnSync('ldd', [binary], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const paths = r.stdout
    .split('\n')
    .map((l) => /=>\s+(\/\S+)/.exec(l)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined);
  return [...new Set(paths.map((p) => realpathSync(p)))].sort();
}

test('a static busybox needs nothing', { skip: !existsSync('/bin/busybox') }, async () => {
  const r = await resolveSharedLibraries('/', '/bin/busybox');
  assert.deepEqual(r, { libraries: [], files: [], missing: [], errors: [] });
});

for (const binary of ['/usr/bin/ls', '/bin/mount']) {
  test(`${binary}: the same libraries ldd finds, with the symlinks on the way`, { skip: !hasLdd || !existsSync(binary) }, async () => {
    const r = await resolveSharedLibraries('/', binary);
    assert.deepEqual(r.missing, []);
    assert.deepEqual(r.errors, []);
    const files = r.files.filter((f) => f.kind === 'file').map((f) => f.path).sort();
    assert.deepEqual(files, lddRealPaths(binary));
    // On merged /usr the loader's paths work only through the /lib and /lib64 links: they must come too.
    const links = r.files.filter((f) => f.kind === 'symlink').map((f) => f.path);
    for (const dir of ['/lib', '/lib64']) {
      if (existsSync(dir) && realpathSync(dir) !== dir) assert.ok(links.includes(dir), dir);
    }
    assert.equal(r.interpreter, '/lib64/ld-linux-x86-64.so.2');
  });
}

test('an image with absolute symlinks resolves inside its root, never on the host', { skip: !existsSync('/usr/bin/ls') || !hasLdd }, async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  const hostLibs = lddRealPaths('/usr/bin/ls');
  for (const lib of hostLibs) fake.file(`/usr/lib/x86_64-linux-gnu/${lib.slice(lib.lastIndexOf('/') + 1)}`, readFileSync(lib));
  fake.link('/lib', 'usr/lib');
  fake.link('/lib64', '/usr/lib64');
  fake.link('/usr/lib64/ld-linux-x86-64.so.2', '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
  // The image's soname links point at versioned files, as Debian ships them.
  for (const lib of hostLibs) {
    const base = lib.slice(lib.lastIndexOf('/') + 1);
    const soname = /^(lib[^.]+(?:-[\d.]+)?\.so\.\d+)\./.exec(base)?.[1];
    if (soname !== undefined && soname !== base) fake.link(`/usr/lib/x86_64-linux-gnu/${soname}`, base);
  }
  fake.file('/usr/bin/ls', readFileSync('/usr/bin/ls'), 0o755);

  const r = await resolveSharedLibraries(fake.root, '/usr/bin/ls');
  assert.deepEqual(r.missing, []);
  assert.deepEqual(r.errors, []);
  for (const f of r.files) if (f.kind === 'file') assert.ok(f.hostPath.startsWith(fake.root + '/'), f.hostPath);
  const paths = r.files.map((f) => `${f.kind} ${f.path}${f.kind === 'symlink' ? ` -> ${f.target}` : ''}`);
  assert.ok(paths.includes('symlink /lib64 -> /usr/lib64'));
  assert.ok(paths.includes('symlink /usr/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'));
  assert.ok(paths.includes('symlink /lib -> usr/lib'));
  assert.ok(paths.includes('file /usr/lib/x86_64-linux-gnu/libc.so.6'));
});

test('DT_RPATH with $ORIGIN is searched first, a library for another machine is skipped, a missing one reported', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  fake.file('/opt/app/bin/app', makeElf({ needed: ['libfoo.so.1', 'libbar.so.2'], rpath: '$ORIGIN/../lib' }), 0o755);
  fake.file('/opt/app/lib/libfoo.so.1', makeElf({ needed: ['libdep.so.1'] }));
  // Found first through the inherited DT_RPATH, but built for aarch64: the loader would skip it.
  fake.file('/opt/app/lib/libdep.so.1', makeElf({ machine: 183 }));
  fake.file('/usr/lib/x86_64-linux-gnu/libdep.so.1', makeElf({}));
  const r = await resolveSharedLibraries(fake.root, '/opt/app/bin/app');
  assert.equal(r.interpreter, undefined);
  assert.deepEqual(
    r.libraries.map((l) => [l.soname, l.path]),
    [
      ['libfoo.so.1', '/opt/app/lib/libfoo.so.1'],
      ['libdep.so.1', '/usr/lib/x86_64-linux-gnu/libdep.so.1'],
    ],
  );
  assert.deepEqual(r.missing, [{ soname: 'libbar.so.2', neededBy: '/opt/app/bin/app' }]);
});

test('DT_RUNPATH hides the DT_RPATH; a malformed binary is an error, not an exception', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  fake.file('/bin/tool', makeElf({ needed: ['libx.so'], rpath: '/rp', runpath: '/run' }), 0o755);
  fake.file('/rp/libx.so', makeElf({}));
  fake.file('/run/libx.so', makeElf({}));
  const r = await resolveSharedLibraries(fake.root, '/bin/tool');
  assert.deepEqual(r.libraries.map((l) => l.path), ['/run/libx.so']);

  fake.file('/bin/broken', makeElf({ needed: ['libx.so'] }).subarray(0, 90), 0o755);
  const broken = await resolveSharedLibraries(fake.root, '/bin/broken');
  assert.equal(broken.errors.length, 1);
  assert.match(broken.errors[0]!, /^Cannot read \/bin\/broken in .*: program headers/);
  const absent = await resolveSharedLibraries(fake.root, '/bin/absent');
  assert.match(absent.errors[0]!, /ENOENT/);
});
