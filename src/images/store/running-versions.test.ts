import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunningVersions, runningVersionsPath } from './running-versions.js';

const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';

test('a file from before the format field is read; the next record writes format 1 and keeps both nodes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-running-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = runningVersionsPath(dir);
  await writeFile(path, JSON.stringify({ nodes: { [A]: { image: 'web', version: '0123456789abcdef', since: '2025-01-01T00:00:00.000Z' } } }));
  const running = await RunningVersions.read(path);
  assert.deepEqual(running.runners('web', '0123456789abcdef'), [A]);
  await running.record(B, 'web', 'fedcba9876543210');
  const onDisk = JSON.parse(await readFile(path, 'utf8')) as { format: number; nodes: Record<string, { version: string }> };
  assert.equal(onDisk.format, 1);
  assert.deepEqual(Object.keys(onDisk.nodes).sort(), [A, B]);
  assert.deepEqual((await RunningVersions.read(path)).runners('web', 'fedcba9876543210'), [B]);
});

test('an unreadable file is refused with its name and what to do', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-running-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = runningVersionsPath(dir);
  await writeFile(path, '{ "nodes": ');
  await assert.rejects(RunningVersions.read(path), /running-versions\.json: not JSON .*remove it and reboot the nodes to rebuild it/);
});
