import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeRequestedPath, resolveInsideRoot } from './confine.js';

const cases: Array<[string, string, string | 'denied' | 'not-found']> = [
  ['plain name', 'pxelinux.0', 'pxelinux.0'],
  ['nested', 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff', 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff'],
  ['one leading slash is root-relative (pxelinux, iPXE)', '/pxelinux.cfg/default', 'pxelinux.cfg/default'],
  ['an absolute path stays inside the root', '/etc/passwd', 'etc/passwd'],
  ['backslashes are separators', 'boot\\grub\\grub.cfg', 'boot/grub/grub.cfg'],
  ['doubled and dot segments collapse', './a//b/./c', 'a/b/c'],
  ['parent segment', '../etc/passwd', 'denied'],
  ['parent segment in the middle', 'a/../../x', 'denied'],
  ['parent segment that would stay inside is still refused', 'a/../b', 'denied'],
  ['parent segment with backslashes', '..\\..\\etc\\passwd', 'denied'],
  ['trailing parent', 'a/..', 'denied'],
  ['dots inside a name are fine', 'a..b/..c', 'a..b/..c'],
  ['NUL byte', 'a\0b', 'denied'],
  ['just a slash', '/', 'not-found'],
  ['empty', '', 'not-found'],
  ['300 bytes', 'a'.repeat(300), 'denied'],
];

for (const [name, input, want] of cases) {
  test(`normalizeRequestedPath: ${name}`, () => {
    const r = normalizeRequestedPath(input);
    if (want === 'denied' || want === 'not-found') {
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.reason, want);
    } else {
      assert.deepEqual(r, { ok: true, path: want });
    }
  });
}

test('resolveInsideRoot follows symlinks inside the root and refuses ones leading out', async () => {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'tftp-path-')));
  try {
    const root = join(dir, 'root');
    await mkdir(join(root, 'sub'), { recursive: true });
    await writeFile(join(root, 'sub', 'file'), 'x');
    await writeFile(join(dir, 'secret'), 'x');
    await symlink('sub/file', join(root, 'inside'));
    await symlink('../secret', join(root, 'outside'));
    await symlink('..', join(root, 'up'));
    await mkdir(join(dir, 'root-sibling'));
    await writeFile(join(dir, 'root-sibling', 'f'), 'x');
    await symlink('../root-sibling/f', join(root, 'prefix-trick'));

    assert.deepEqual(await resolveInsideRoot(root, 'inside'), { ok: true, path: join(root, 'sub', 'file') });
    for (const p of ['outside', 'up/secret', 'prefix-trick']) {
      const r = await resolveInsideRoot(root, p);
      assert.equal(!r.ok && r.reason, 'denied', p);
    }
    const missing = await resolveInsideRoot(root, 'nope');
    assert.equal(!missing.ok && missing.reason, 'not-found');
    const underFile = await resolveInsideRoot(root, 'sub/file/x');
    assert.equal(!underFile.ok && underFile.reason, 'not-found');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
