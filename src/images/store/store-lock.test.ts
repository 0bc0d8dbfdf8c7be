import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../process/run.js';
import { ImageStore } from './image-store.js';

test('another process holding an image lock makes a publish wait; its death frees the lock', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-store-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tree = join(dir, 'tree');
  await mkdir(join(tree, 'etc'), { recursive: true });
  await writeFile(join(tree, 'etc', 'v'), 'one');
  await run(['mksquashfs', tree, join(dir, 'a.sqfs'), '-quiet', '-no-progress']);
  await writeFile(join(dir, 'k'), 'kernel');
  await writeFile(join(dir, 'i'), 'initrd');
  const store = new ImageStore({ root: join(dir, 'store') });
  const m = await store.addVersion('img', { squashfs: join(dir, 'a.sqfs'), kernel: join(dir, 'k'), initrd: join(dir, 'i'), kernelVersion: '6.1.0-t' });

  // A live process "holds" the lock, as a second `diskless image publish` would.
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  t.after(() => holder.kill('SIGKILL'));
  const lock = join(dir, 'store', '.img.lock');
  await writeFile(lock, `${holder.pid}\n`);
  let done = false;
  const publishing = store.publish('img', m.version).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(done, false, 'publish waits while the other process holds the lock');
  await assert.rejects(store.resolve('img'), 'nothing published yet');

  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  await publishing;
  assert.equal((await store.resolve('img')).version, m.version);
  await assert.rejects(stat(lock), 'released after use');
  assert.equal((await readFile(join(dir, 'store', 'img', 'published'), 'utf8')).includes(m.version), true);
});
