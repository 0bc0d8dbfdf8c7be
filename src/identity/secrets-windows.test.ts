import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../log/logger.js';
import { SecretsWindows } from './secrets-windows.js';

const A = '52:54:00:aa:bb:01';
const B = '52:54:00:aa:bb:02';

test('open windows survive a restart through a file only the server can read; expired ones are not written', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-windows-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'secrets-windows.json');
  let now = 1_000_000;
  const first = await SecretsWindows.open({ path, windowMs: 60_000, now: () => now });
  first.openFor(A, '10.0.0.5');
  now += 50_000;
  first.openFor(B);
  now += 20_000; // A's window is over, B's is not
  await first.flush();
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), { format: 1, windows: [{ mac: B, openedAt: 1_050_000 }] });

  const again = await SecretsWindows.open({ path, windowMs: 60_000, now: () => now });
  assert.equal(again.get(A), undefined);
  assert.deepEqual(again.get(B), { mac: B, openedAt: 1_050_000 });
});

test('an unreadable file is logged and the server starts with no windows open', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-windows-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'secrets-windows.json');
  await writeFile(path, '{ "format": 9, "windows": [] }');
  const logger = memoryLogger();
  const windows = await SecretsWindows.open({ path, windowMs: 60_000, logger });
  assert.equal(windows.get(A), undefined);
  assert.match(String(logger.lines.find((l) => l.level === 'warn')?.error), /secrets-windows\.json: "format" is 9/);
});
