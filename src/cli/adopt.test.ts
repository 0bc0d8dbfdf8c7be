import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));
const SEEN = '52:54:00:aa:00:01';
const OTHER = '52:54:00:aa:00:02';
const NODE = '52:54:00:00:00:01';

const config = (dir: string) => `# the lab
server:
  address: 10.0.0.1   # reached by nodes here
  state_dir: ${dir}/state
dhcp:
  mode: full
  pool: 10.0.0.100-10.0.0.200
  unknown_clients: register   # new machines wait for adoption
profiles:
  default:
    kernel: /k
  compute:
    kernel: /k
nodes:
  # the first one
  - mac: ${NODE}
    hostname: dc1
    address: 10.0.0.11
default_profile: compute
`;

const machine = (mac: string, lastSeen: string, extra: object = {}) => ({ mac, firstSeen: lastSeen, lastSeen, count: 3, ...extra });

function setup(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'dl-adopt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'diskless.yaml');
  writeFileSync(file, config(dir));
  mkdirSync(join(dir, 'state'));
  writeFileSync(join(dir, 'state', 'discovered.json'), JSON.stringify({
    format: 1,
    machines: [
      machine(SEEN, '2024-05-01T12:00:05.000Z', { arch: 'EfiX64', vendorClass: 'PXEClient:Arch:00007:UNDI:003016' }),
      machine(OTHER, '2024-05-01T11:00:00.000Z', { arch: 'BiosX86' }),
      machine(NODE, '2024-05-01T10:00:00.000Z'),
    ],
  }));
  return { dir, file };
}

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('node discovered lists unknown machines, newest first, without inventory nodes', (t) => {
  const { file } = setup(t);
  const r = cli('node', 'discovered', '--config', file);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.match(lines[0]!, /^MAC\s+ARCH\s+VENDOR CLASS\s+LAST SEEN\s+COUNT$/);
  assert.match(lines[1]!, /^52:54:00:aa:00:01\s+EfiX64\s+PXEClient:Arch:00007:UNDI:003016\s+2024-05-01 12:00:05Z\s+3$/);
  assert.match(lines[2]!, /^52:54:00:aa:00:02\s+BiosX86\s+-\s+2024-05-01 11:00:00Z\s+3$/);
  assert.equal(lines.length, 3, 'the inventory node is not listed');
});

test('node adopt adds a discovered machine with default_profile and keeps comments', (t) => {
  const { file } = setup(t);
  const r = cli('node', 'adopt', '52-54-00-AA-00-01', '--hostname', 'c1', '--address', '10.0.0.21', '--config', file);
  assert.equal(r.code, 0, r.err);
  const text = readFileSync(file, 'utf8');
  for (const kept of ['# the lab', 'address: 10.0.0.1   # reached by nodes here', '  # the first one', 'unknown_clients: register   # new machines wait for adoption']) {
    assert.ok(text.includes(kept), kept);
  }
  assert.match(cli('node', 'list', '--config', file).out, /52:54:00:aa:00:01\s+c1\s+10\.0\.0\.21\s+compute\s+ipxe/);
  assert.doesNotMatch(cli('node', 'discovered', '--config', file).out, /52:54:00:aa:00:01/);
  // --profile overrides default_profile.
  assert.equal(cli('node', 'adopt', OTHER, '--hostname', 'c2', '--profile', 'default', '--config', file).code, 0);
  assert.match(cli('node', 'list', '--config', file).out, /52:54:00:aa:00:02\s+c2\s+pool\s+default/);
});

test('node adopt refuses what it cannot add and leaves the file alone', (t) => {
  const { file, dir } = setup(t);
  const before = readFileSync(file, 'utf8');
  const notSeen = cli('node', 'adopt', '52:54:00:bb:00:09', '--hostname', 'x1', '--config', file);
  assert.equal(notSeen.code, 1);
  assert.match(notSeen.err, /52:54:00:bb:00:09 has not been discovered/);
  assert.match(notSeen.err, /diskless node add --mac 52:54:00:bb:00:09/);
  assert.match(cli('node', 'adopt', SEEN, '--hostname', 'DC1', '--config', file).err, /host name DC1 is already used by dc1/);
  assert.match(cli('node', 'adopt', SEEN, '--hostname', 'c1', '--address', '10.0.0.11', '--config', file).err, /address 10\.0\.0\.11 is already reserved for dc1/);
  assert.match(cli('node', 'adopt', NODE, '--hostname', 'again', '--config', file).err, /a node with MAC 52:54:00:00:00:01 already exists/);
  assert.match(cli('node', 'adopt', SEEN, '--hostname', 'c1', '--profile', 'nope', '--config', file).err, /names no profile "nope"/);
  assert.match(cli('node', 'adopt', SEEN, '--config', file).err, /--hostname H is required/);
  assert.match(cli('node', 'adopt', SEEN, '--hostname', 'bad_name', '--config', file).err, /not a valid host name/);
  assert.equal(readFileSync(file, 'utf8'), before);
  // No discovered file at all: nothing was seen, so nothing can be adopted.
  rmSync(join(dir, 'state', 'discovered.json'));
  assert.match(cli('node', 'adopt', SEEN, '--hostname', 'c1', '--config', file).err, /has not been discovered/);
});
