import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_PASSWORD_HASH_PATH, bundleFiles, nodeSecretFiles } from './bundle.js';
import { SecretStore } from './secret-store.js';

/** The node's secret files as the node-files endpoint bundles them. */
const nodeSecretBundle = async (store: SecretStore, mac: string, hostname: string) => bundleFiles(await nodeSecretFiles(store, mac, hostname));

const MAC = '52:54:00:12:34:56';
const SHA512 = '$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1';
const ED_PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0b29rc2xpa2VhbmVkMjU1MTlrZXlmb3J0ZXN0cw admin@lab';

const hasCpio = spawnSync('cpio', ['--version']).status === 0;

test('the bundle unpacks with cpio -i into the right paths, modes and contents', { skip: !hasCpio && 'cpio not installed' }, async () => {
  const state = await mkdtemp(join(tmpdir(), 'diskless-bundle-state-'));
  const out = await mkdtemp(join(tmpdir(), 'diskless-bundle-out-'));
  try {
    const store = await SecretStore.open({ stateDir: state });
    await store.setRootPassword('*', SHA512);
    await store.setAuthorizedKeys(MAC, [ED_PUB]);
    const bundle = await nodeSecretBundle(store, MAC, 'node1');
    assert.deepEqual(await nodeSecretBundle(store, MAC, 'node1'), bundle, 'same secrets, same bytes');

    // No -d: the archive carries its parent directories itself, as busybox cpio will need.
    const r = spawnSync('cpio', ['-i', '--quiet', '--no-absolute-filenames'], { cwd: out, input: bundle });
    assert.equal(r.status, 0, r.stderr.toString());

    const { files } = await store.hostKeys(MAC, 'node1');
    const expected = [
      ...files,
      { path: '/root/.ssh/authorized_keys', mode: 0o600, content: Buffer.from(ED_PUB + '\n') },
      { path: ROOT_PASSWORD_HASH_PATH, mode: 0o600, content: Buffer.from(SHA512 + '\n') },
    ];
    for (const f of expected) {
      const p = join(out, f.path);
      assert.deepEqual(await readFile(p), f.content, f.path);
      assert.equal((await stat(p)).mode & 0o7777, f.mode, f.path);
    }
    for (const [d, m] of [['root', 0o700], ['root/.ssh', 0o700], ['etc/ssh', 0o755]] as const) {
      assert.equal((await stat(join(out, d))).mode & 0o7777, m, d);
    }
    assert.deepEqual((await readdir(join(out, 'etc', 'ssh'))).sort(), files.map((f) => f.path.slice('/etc/ssh/'.length)).sort());
  } finally {
    await rm(state, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  }
});

test('without admin secrets the bundle holds only the host keys', async () => {
  const state = await mkdtemp(join(tmpdir(), 'diskless-bundle-state-'));
  try {
    const store = await SecretStore.open({ stateDir: state });
    const bundle = await nodeSecretBundle(store, MAC, 'node1');
    const text = bundle.toString('latin1');
    assert.ok(text.includes('etc/ssh/ssh_host_rsa_key.pub'));
    assert.ok(!text.includes('root/.ssh'));
    assert.ok(!text.includes('etc/diskless'));
    assert.ok(text.includes('TRAILER!!!'));
  } finally {
    await rm(state, { recursive: true, force: true });
  }
});
