import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePrivateDir } from './cache-dir.js';

test('a new cache directory is made private; an existing one writable by others, a symlink or another owner\'s is refused', async () => {
  const base = await mkdtemp(join(tmpdir(), 'diskless-cache-dir-'));
  try {
    const fresh = join(base, 'a', 'helpers');
    assert.equal(await ensurePrivateDir(fresh), fresh);
    assert.equal((await stat(fresh)).mode & 0o777, 0o700);
    assert.equal(await ensurePrivateDir(fresh), fresh, 'its own directory is accepted again');

    const shared = join(base, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    await assert.rejects(ensurePrivateDir(shared), /writable by others \(mode 777\).*DISKLESS_CACHE/);

    const link = join(base, 'link');
    await symlink(fresh, link);
    await assert.rejects(ensurePrivateDir(link), /not a directory \(a symlink or a file\)/);

    if (process.getuid?.() === 0) {
      const foreign = join(base, 'foreign');
      await mkdir(foreign, { mode: 0o755 });
      await chown(foreign, 65534, 65534);
      await assert.rejects(ensurePrivateDir(foreign), /owned by uid 65534, not this user \(0\)/);
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
