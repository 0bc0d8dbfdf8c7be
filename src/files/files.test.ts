import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeRequestedPath, resolveInsideRoot } from './confine.js';
import { diskFile, memoryFile } from './boot-file.js';

async function collect(s: NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(Buffer.from(c as Buffer));
  return Buffer.concat(parts).toString();
}

/** The confinement rule's first two steps, as a server runs them on one request. */
async function confinedPath(root: string, requested: string): Promise<string | undefined> {
  const normalized = normalizeRequestedPath(requested);
  if (!normalized.ok) return undefined;
  const real = await resolveInsideRoot(await realpath(root), normalized.path);
  return real.ok ? real.path : undefined;
}

test('the confinement rule keeps clients inside the root', async (t) => {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'dl-confine-')));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  await mkdir(join(root, 'a'), { recursive: true });
  await writeFile(join(root, 'a', 'f'), 'x');
  await writeFile(join(dir, 'secret'), 's');
  await symlink(join(dir, 'secret'), join(root, 'out'));
  await symlink('a/f', join(root, 'in'));
  assert.equal(await confinedPath(root, 'a/f'), join(root, 'a', 'f'));
  assert.equal(await confinedPath(root, '/a/f'), join(root, 'a', 'f'));
  assert.equal(await confinedPath(root, 'a\\f'), join(root, 'a', 'f'));
  assert.equal(await confinedPath(root, 'in'), join(root, 'a', 'f'));
  // Empty segments collapse (as TFTP always had it): a doubled slash names the same file.
  assert.equal(await confinedPath(root, 'a//f'), join(root, 'a', 'f'));
  // Leading slashes mean root-relative, so this is looked up inside the root, and is not there.
  for (const bad of ['../secret', 'a/../../secret', 'a/../f', '//etc/passwd', 'out', '', 'a/f\0', 'x'.repeat(256), 'missing']) {
    assert.equal(await confinedPath(root, bad), undefined, JSON.stringify(bad));
  }
});

test('disk and memory files read ranges', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-files-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'f'), '0123456789');
  const f = await diskFile(join(dir, 'f'));
  assert.ok(f);
  assert.equal(f.size, 10);
  assert.equal((await f.read(8, 5)).toString(), '89');
  assert.equal(await collect(f.stream(2, 4)), '234');
  assert.equal(await diskFile(dir), undefined, 'a directory is not a file');
  const m = memoryFile('hello');
  assert.equal((await m.read(1, 3)).toString(), 'ell');
  assert.equal(await collect(m.stream(0, 4)), 'hello');
  assert.notEqual(m.etag, memoryFile('hellO').etag);
});
