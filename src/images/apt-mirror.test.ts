import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostDebianMirror } from './apt-mirror.js';

test('the mirror comes from deb822 sources, then one-line lists, never the security archive', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-apt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'sources.list.d'));
  assert.throws(() => hostDebianMirror(dir, {}), /Cannot find a Debian mirror/);
  writeFileSync(join(dir, 'sources.list'), '# deb http://commented.example/debian bookworm main\ndeb [arch=amd64] http://mirror.example/debian/ bookworm main\n');
  assert.equal(hostDebianMirror(dir, {}), 'http://mirror.example/debian');
  writeFileSync(join(dir, 'sources.list.d', 'a.sources'), 'Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\n');
  assert.equal(hostDebianMirror(dir, {}), 'http://mirror.example/debian');
  writeFileSync(join(dir, 'sources.list'), '');
  writeFileSync(join(dir, 'sources.list.d', 'b.sources'), 'Types: deb\nURIs: https://local.example/debian\nSuites: bookworm\n');
  assert.equal(hostDebianMirror(dir, {}), 'https://local.example/debian');
  assert.equal(hostDebianMirror(dir, { DISKLESS_DEBIAN_MIRROR: 'http://override.example/d' }), 'http://override.example/d');
});
