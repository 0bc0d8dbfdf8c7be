import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathExists } from './path-exists.js';

test('pathExists: a file and a directory are there; a missing name, a path through a file and a dangling symlink are not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'diskless-path-exists-'));
  try {
    const file = join(dir, 'f');
    await writeFile(file, 'x');
    await symlink(join(dir, 'gone'), join(dir, 'dangling'));
    assert.equal(await pathExists(file), true);
    assert.equal(await pathExists(dir), true);
    assert.equal(await pathExists(join(dir, 'gone')), false);
    assert.equal(await pathExists(join(file, 'below')), false);
    assert.equal(await pathExists(join(dir, 'dangling')), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
