import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { configPath, DEFAULT_CONFIG_PATH, loadConfigFrom } from './config-path.js';

test('--config wins, then DISKLESS_CONFIG, then /etc/diskless/diskless.yaml', () => {
  assert.deepEqual(configPath('x.yaml', { DISKLESS_CONFIG: '/srv/d.yaml' }), { path: resolve('x.yaml'), from: 'option' });
  assert.deepEqual(configPath(undefined, { DISKLESS_CONFIG: '/srv/d.yaml' }), { path: '/srv/d.yaml', from: 'env' });
  assert.deepEqual(configPath(undefined, { DISKLESS_CONFIG: '' }), { path: DEFAULT_CONFIG_PATH, from: 'default' });
  assert.deepEqual(configPath(undefined, {}), { path: '/etc/diskless/diskless.yaml', from: 'default' });
});

test('a missing config says how it was chosen and how to make one', () => {
  assert.throws(() => loadConfigFrom(undefined, { DISKLESS_CONFIG: '/nonexistent/d.yaml' }), (e: Error) => {
    assert.match(e.message, /^\/nonexistent\/d\.yaml: \(file\): cannot read config: no such file \(named by DISKLESS_CONFIG; write one with "diskless init --interface IF"/);
    return true;
  });
  const dir = mkdtempSync(join(tmpdir(), 'diskless-config-path-'));
  writeFileSync(join(dir, 'd.yaml'), 'server: { address: 10.0.0.1, state_dir: /tmp/x }\n');
  assert.equal(loadConfigFrom(undefined, { DISKLESS_CONFIG: join(dir, 'd.yaml') }).server.address, '10.0.0.1');
});
