import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRegularFile, readAt } from './open-file.js';

async function fixture(t: { after(fn: () => Promise<void>): void }) {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'dl-open-')));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  await mkdir(join(root, 'sub'), { recursive: true });
  await mkdir(join(dir, 'outside'));
  await writeFile(join(root, 'sub', 'f'), 'inside');
  await writeFile(join(dir, 'outside', 'f'), 'secret');
  return { dir, root };
}

test('a regular file opens once; size and bytes come from the descriptor', async (t) => {
  const { root } = await fixture(t);
  const r = await openRegularFile(join(root, 'sub', 'f'), { confinedTo: root });
  assert.ok(r.ok, r.ok ? '' : r.error);
  try {
    assert.equal(r.file.size, 6);
    assert.equal((await readAt(r.file.handle, 2, 4)).toString(), 'side');
    assert.equal((await readAt(r.file.handle, 4, 10)).toString(), 'de', 'short only at the end of the file');
  } finally {
    await r.file.handle.close();
  }
});

test('confined: a final component that is a symlink is not followed, even to a file inside the root', async (t) => {
  const { dir, root } = await fixture(t);
  await symlink(join(dir, 'outside', 'f'), join(root, 'out'));
  await symlink('sub/f', join(root, 'in'));
  for (const name of ['out', 'in']) {
    const r = await openRegularFile(join(root, name), { confinedTo: root });
    assert.ok(!r.ok && r.reason === 'denied' && /ELOOP/.test(r.error), name);
  }
});

test('confined: a parent directory that became a symlink out of the root is caught on the descriptor', async (t) => {
  const { dir, root } = await fixture(t);
  // As if root/sub had been checked, then replaced by a link to ../outside before the open.
  await rm(join(root, 'sub'), { recursive: true });
  await symlink(join(dir, 'outside'), join(root, 'sub'));
  const r = await openRegularFile(join(root, 'sub', 'f'), { confinedTo: root });
  assert.ok(!r.ok && r.reason === 'denied', r.ok ? 'opened the file outside the root' : r.error);
  assert.match(r.error, /outside/);
});

test('a FIFO is refused without hanging; a directory is not a file; a missing file is not found', async (t) => {
  const { root } = await fixture(t);
  execFileSync('mkfifo', [join(root, 'fifo')]);
  const fifo = await openRegularFile(join(root, 'fifo'), { confinedTo: root });
  assert.ok(!fifo.ok && fifo.reason === 'not-a-file');
  const directory = await openRegularFile(join(root, 'sub'), { confinedTo: root });
  assert.ok(!directory.ok && directory.reason === 'not-a-file');
  const missing = await openRegularFile(join(root, 'nope'));
  assert.ok(!missing.ok && missing.reason === 'not-found');
});

test('unconfined (a path an admin configured): symlinks are followed', async (t) => {
  const { dir, root } = await fixture(t);
  await symlink(join(dir, 'outside', 'f'), join(root, 'vmlinuz'));
  const r = await openRegularFile(join(root, 'vmlinuz'));
  assert.ok(r.ok);
  try {
    assert.equal((await readAt(r.file.handle, 0, r.file.size)).toString(), 'secret');
  } finally {
    await r.file.handle.close();
  }
});
