import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { memoryLogger } from '../log/logger.js';
import { editConfigFile } from '../inventory/config-file.js';
import { addNode } from '../inventory/editor.js';
import { loadConfig, parseConfig } from './load.js';
import { ConfigWatcher, liveConfig } from './watch.js';

const CONFIG = `server:
  address: 10.0.0.1   # ours
  http_port: 8080
dhcp: { mode: proxy }
profiles:
  default: { kernel: /k }
nodes:
  - { mac: "52:54:00:00:00:01", hostname: n1 }
`;

async function until(what: string, ok: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function watched(t: { after(fn: () => Promise<void> | void): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'dl-watch-'));
  const file = join(dir, 'diskless.yaml');
  await writeFile(file, CONFIG);
  const logger = memoryLogger();
  const watcher = new ConfigWatcher({ initial: loadConfig(file), logger, debounceMs: 20 });
  watcher.start();
  t.after(async () => {
    watcher.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { file, logger, watcher };
}

test('an edit through the inventory editor (temp + rename) is picked up', async (t) => {
  const { file, logger, watcher } = await watched(t);
  await editConfigFile(file, (text) => addNode(text, { mac: '52:54:00:00:00:02', hostname: 'n2' }, file));
  await until('the reload', () => watcher.current.nodes.length === 2);
  assert.equal(watcher.current.nodes[1]?.hostname, 'n2');
  const line = logger.lines.find((l) => l.msg === 'config reloaded');
  assert.equal(line?.nodes, 2);
  assert.equal(line?.profiles, 1);
  assert.equal(line?.service, 'config');
});

test('a broken edit keeps the old config and logs why', async (t) => {
  const { file, logger, watcher } = await watched(t);
  const before = watcher.current;
  // Written in place, as an editor without atomic saves does.
  await writeFile(file, CONFIG.replace('hostname: n1', 'hostname: n1, colour: red'));
  await until('the failure', () => logger.lines.some((l) => l.msg === 'config reload failed'));
  assert.equal(watcher.current, before);
  const line = logger.lines.find((l) => l.msg === 'config reload failed');
  assert.equal(line?.level, 'error');
  assert.match(String(line?.error), /diskless\.yaml:8: nodes\[0\]\.colour: unknown setting/);
  // Fixing it applies the fix.
  await writeFile(file, CONFIG.replace('hostname: n1', 'hostname: fixed'));
  await until('the fixed reload', () => watcher.current.nodes[0]?.hostname === 'fixed');
});

test('an emptied file (an in-place save under way) keeps the running config, and is no reload failure', async (t) => {
  const { file, logger, watcher } = await watched(t);
  watcher.stop();
  const before = watcher.current;
  await writeFile(file, '\n  \n');
  assert.equal(watcher.reload(), false);
  assert.equal(watcher.current, before);
  assert.equal(logger.lines.find((l) => l.msg === 'config file is empty: keeping the running config until it has content')?.level, 'warn');
  assert.equal(logger.lines.some((l) => l.msg === 'config reload failed'), false);
  await writeFile(file, CONFIG.replace('hostname: n1', 'hostname: after'));
  assert.equal(watcher.reload(), true);
  assert.equal(watcher.current.nodes[0]?.hostname, 'after');
});

test('settings fixed at start are kept and reported as needing a restart', async (t) => {
  const { file, logger, watcher } = await watched(t);
  await writeFile(file, CONFIG.replace('http_port: 8080', 'http_port: 8081').replace('mode: proxy', 'mode: off').replace('n1', 'renamed'));
  await until('the reload', () => watcher.current.nodes[0]?.hostname === 'renamed');
  assert.equal(watcher.current.server.httpPort, 8080);
  assert.equal(watcher.current.dhcp.mode, 'proxy');
  const line = logger.lines.find((l) => l.msg === 'config change needs a restart');
  assert.equal(line?.settings, 'server.http_port, dhcp.mode');
});

test('liveConfig: nodes and profiles from the file, no restart needed for them', () => {
  const started = parseConfig(CONFIG, '/x/diskless.yaml');
  const next = parseConfig(CONFIG.replace('kernel: /k }', 'kernel: /k }\n  nbd: { kernel: /k, root: { mode: nbd, image: /i } }'), '/x/diskless.yaml');
  const { config, needsRestart } = liveConfig(started, next);
  assert.equal(config.profiles.size, 2);
  assert.deepEqual(needsRestart, ['profiles (a root of mode nbd: the NBD server is not running)']);
  assert.deepEqual(liveConfig(started, parseConfig(CONFIG, '/x/diskless.yaml')).needsRestart, []);
});

test('after stop() no edit is applied', async (t) => {
  const { file, watcher } = await watched(t);
  watcher.stop();
  await writeFile(file, CONFIG.replace('n1', 'late'));
  await sleep(150);
  assert.equal(watcher.current.nodes[0]?.hostname, 'n1');
});
