import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeRoot } from './testdata/fake-root.js';
import { resolveInRoot } from './root-path.js';

test('absolute and relative links resolve inside the root, with each link reported', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  fake.file('/usr/lib/x86_64-linux-gnu/libc.so.6', 'libc');
  fake.link('/lib', 'usr/lib');
  fake.link('/lib64', '/usr/lib64');
  fake.link('/usr/lib64/ld.so', '/lib/x86_64-linux-gnu/../x86_64-linux-gnu/libc.so.6');
  const r = await resolveInRoot(fake.root, '/lib64/ld.so');
  assert.ok(r.ok);
  assert.equal(r.path, '/usr/lib/x86_64-linux-gnu/libc.so.6');
  assert.equal(r.hostPath, `${fake.root}/usr/lib/x86_64-linux-gnu/libc.so.6`);
  assert.deepEqual(r.links, [
    { path: '/lib64', target: '/usr/lib64' },
    { path: '/usr/lib64/ld.so', target: '/lib/x86_64-linux-gnu/../x86_64-linux-gnu/libc.so.6' },
    { path: '/lib', target: 'usr/lib' },
  ]);
});

test('".." and absolute links cannot leave the root; loops and missing paths are errors', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  fake.file('/etc/passwd', 'image passwd');
  fake.link('/escape', '../../../../etc/passwd');
  fake.link('/loop-a', 'loop-b');
  fake.link('/loop-b', 'loop-a');
  const escape = await resolveInRoot(fake.root, '/escape');
  assert.ok(escape.ok);
  assert.equal(escape.hostPath, `${fake.root}/etc/passwd`);
  const loop = await resolveInRoot(fake.root, '/loop-a');
  assert.equal(loop.ok, false);
  assert.match(loop.ok ? '' : loop.error, /too many levels of symbolic links/);
  const missing = await resolveInRoot(fake.root, '/nope/x');
  assert.deepEqual(missing, { ok: false, error: '/nope: ENOENT', links: [] });
});
