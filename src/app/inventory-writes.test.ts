// The API's inventory writes against a real config file: a refused edit leaves the file as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { auth, call, startApi } from '../api/testdata/api-fixture.js';
import { HOSTILE_CMDLINES } from '../config/testdata/hostile-cmdlines.js';
import { fileInventoryWrites } from './inventory-writes.js';

const N1 = '52:54:00:00:00:01';
const STRANGER = '52:54:00:00:00:99';
const CONFIG = `# the lab
server:
  address: 10.77.0.1
profiles:
  default:
    kernel: /boot/vmlinuz
    cmdline: console=ttyS0
  rescue:
    kernel: /boot/vmlinuz-old
nodes:
  - mac: ${N1}
    hostname: n1
    cmdline: quiet
default_profile: default
`;

async function apiOverFile(t: { after(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'dl-writes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'diskless.yaml');
  writeFileSync(file, CONFIG);
  const { port } = await startApi(t, {
    inventory: () => loadConfig(file),
    writes: fileInventoryWrites(file, (mac) => mac === STRANGER, () => {}),
    discovered: () => [{ mac: STRANGER, firstSeen: '2025-01-15T08:00:00Z', lastSeen: '2025-01-15T08:00:00Z', count: 1 }],
  });
  return { port, file };
}

test('cmdline with loader syntax is refused by every API write, naming the key and the character; the file is untouched', async (t) => {
  const { port, file } = await apiOverFile(t);
  for (const [name, cmdline, names] of HOSTILE_CMDLINES) {
    const writes: Array<[string, string, object]> = [
      [`/api/v1/nodes/${N1}`, 'nodes[0].cmdline', { cmdline }],
      ['/api/v1/nodes', 'nodes[1].cmdline', { mac: '52:54:00:00:00:02', hostname: 'n2', cmdline }],
      [`/api/v1/discovered/${STRANGER}/adopt`, 'nodes[1].cmdline', { hostname: 'n99', cmdline }],
    ];
    for (const [path, key, body] of writes) {
      const r = await call(port, 'POST', path, { body: JSON.stringify(body), headers: auth });
      assert.equal(r.status, 400, `${name} ${path}: ${r.body}`);
      assert.ok(r.json.error.includes(`${key}: `) && r.json.error.includes(names), `${name} ${path}: ${r.json.error}`);
      assert.equal(readFileSync(file, 'utf8'), CONFIG, `${name} ${path}: nothing written`);
    }
  }
  // A real admin's arguments still go through.
  const ok = await call(port, 'POST', `/api/v1/nodes/${N1}`, { body: JSON.stringify({ cmdline: 'console=ttyS0,115200n8 systemd.unit=rescue.target' }), headers: auth });
  assert.equal(ok.status, 200, ok.body);
  assert.equal(loadConfig(file).nodes[0]?.cmdline, 'console=ttyS0,115200n8 systemd.unit=rescue.target');
});

test('regression: a line break in an API value cannot write YAML of its own (another profile, node files, settings)', async (t) => {
  const { port, file } = await apiOverFile(t);
  const attempts: object[] = [
    { cmdline: '\n    profile: rescue' },
    { cmdline: '\n    files:\n      - { path: /etc/x, source: /etc/shadow }' },
    { hostname: '\n    profile: rescue' },
    { address: '\n    loader: pxelinux' },
    { cmdline: '\napi:\n  read_from: [0.0.0.0/0]\nzzz:' },
  ];
  for (const body of attempts) {
    const r = await call(port, 'POST', `/api/v1/nodes/${N1}`, { body: JSON.stringify(body), headers: auth });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.body}`);
    assert.equal(readFileSync(file, 'utf8'), CONFIG, JSON.stringify(body));
  }
  const cfg = loadConfig(file);
  assert.deepEqual(cfg.nodes, [{ mac: N1, hostname: 'n1', profile: 'default', cmdline: 'quiet' }]);
});
