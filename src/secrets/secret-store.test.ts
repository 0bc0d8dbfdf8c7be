import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretStore, validateAuthorizedKeys, validateCryptHash } from './secret-store.js';
import { SecretPermissionError } from './secret-files.js';

const MAC = '52:54:00:12:34:56';
const SHA512 = '$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1';
const YESCRYPT = '$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7';
const ED_PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0b29rc2xpa2VhbmVkMjU1MTlrZXlmb3J0ZXN0cw admin@lab';

async function withStore(fn: (store: SecretStore, state: string) => Promise<void>): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), 'diskless-secrets-'));
  try {
    await fn(await SecretStore.open({ stateDir: state }), state);
  } finally {
    await rm(state, { recursive: true, force: true });
  }
}

const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;

test('host keys are generated once and survive a new store (a reboot)', async () => {
  await withStore(async (store, state) => {
    const first = await store.hostKeys(MAC, 'node1');
    assert.deepEqual(
      first.files.map((f) => [f.path, f.mode]),
      [
        ['/etc/ssh/ssh_host_ed25519_key', 0o600],
        ['/etc/ssh/ssh_host_ed25519_key.pub', 0o644],
        ['/etc/ssh/ssh_host_rsa_key', 0o600],
        ['/etc/ssh/ssh_host_rsa_key.pub', 0o644],
        ['/etc/ssh/ssh_host_ecdsa_key', 0o600],
        ['/etc/ssh/ssh_host_ecdsa_key.pub', 0o644],
      ],
    );
    const pub = first.files[1]!.content.toString();
    assert.match(pub, /^ssh-ed25519 \S+ root@node1\n$/);
    assert.match(first.files[3]!.content.toString(), /^ssh-rsa /);
    assert.match(first.files[5]!.content.toString(), /^ecdsa-sha2-nistp256 /);
    assert.match(first.files[0]!.content.toString(), /BEGIN OPENSSH PRIVATE KEY/);

    const again = await store.hostKeys('52-54-00-12-34-56', 'node1');
    const reopened = await (await SecretStore.open({ stateDir: state })).hostKeys(MAC, 'renamed');
    for (const other of [again, reopened]) {
      assert.deepEqual(other.files.map((f) => f.content), first.files.map((f) => f.content));
    }
    // Permissions on the server side: directories 0700, every file 0600, no scratch left over.
    assert.equal(await mode(join(state, 'secrets')), 0o700);
    const dir = store.nodeDir(MAC);
    assert.equal(dir, join(state, 'secrets', '52-54-00-12-34-56'));
    assert.equal(await mode(dir), 0o700);
    for (const t of ['ed25519', 'rsa', 'ecdsa']) {
      assert.equal(await mode(join(dir, `ssh_host_${t}_key`)), 0o600);
      assert.equal(await mode(join(dir, `ssh_host_${t}_key.pub`)), 0o600);
    }
  });
});

test('concurrent first calls generate one key, not two', async () => {
  await withStore(async (store) => {
    const [a, b] = await Promise.all([store.hostKeys(MAC, 'n'), store.hostKeys(MAC, 'n')]);
    assert.deepEqual(a.files.map((f) => f.content), b.files.map((f) => f.content));
  });
});

test('a group-readable secret file or directory is refused at load and at use', async () => {
  await withStore(async (store, state) => {
    await store.hostKeys(MAC, 'node1');
    const key = join(store.nodeDir(MAC), 'ssh_host_ed25519_key');
    await chmod(key, 0o640);
    await assert.rejects(SecretStore.open({ stateDir: state }), (e: unknown) => {
      assert.ok(e instanceof SecretPermissionError);
      assert.equal(e.path, key);
      assert.match(e.message, /mode 0640 lets group\/other access it.*chmod 600/);
      return true;
    });
    await assert.rejects(store.hostKeys(MAC, 'node1'), SecretPermissionError);
    await chmod(key, 0o600);
    await chmod(store.nodeDir(MAC), 0o755);
    await assert.rejects(SecretStore.open({ stateDir: state }), /mode 0755 .*chmod 700/);
    await assert.rejects(store.hostKeys(MAC, 'node1'), SecretPermissionError);
    await chmod(store.nodeDir(MAC), 0o700);
    await SecretStore.open({ stateDir: state });
  });
});

test('root password: only crypt hashes, per node with a "*" default, stored 0600', async () => {
  await withStore(async (store) => {
    assert.equal(await store.rootPasswordHash(MAC), undefined);
    await store.setRootPassword('*', YESCRYPT);
    assert.equal(await store.rootPasswordHash(MAC), YESCRYPT);
    await store.setRootPassword(MAC, SHA512);
    assert.equal(await store.rootPasswordHash(MAC), SHA512);
    assert.equal(await store.rootPasswordHash('52:54:00:00:00:09'), YESCRYPT);
    assert.equal(await mode(join(store.nodeDir(MAC), 'root_password_hash')), 0o600);
    assert.equal(await mode(store.nodeDir('*')), 0o700);
    await assert.rejects(store.setRootPassword(MAC, 'hunter2'), /not a crypt\(3\) hash/);
    await assert.rejects(store.setRootPassword('not-a-mac', SHA512), /Invalid MAC/);
    // A refused value leaves the stored one alone.
    assert.equal(await store.rootPasswordHash(MAC), SHA512);
  });
});

test('validateCryptHash', () => {
  for (const ok of [SHA512, YESCRYPT, '$2b$12$' + 'a'.repeat(53)]) assert.equal(validateCryptHash(ok + '\n'), ok);
  assert.throws(() => validateCryptHash('$1$salt$qJH7.N4xYta3aEG/dfqo/0'), /too weak/);
  for (const bad of ['', 'password', '$6$salt$short', SHA512 + ':x', `${SHA512}\nroot::0:0`]) {
    assert.throws(() => validateCryptHash(bad), /Refusing/);
  }
});

test('authorized_keys: validated, per node with a "*" default, empty list overrides', async () => {
  await withStore(async (store) => {
    await store.setAuthorizedKeys('*', [ED_PUB]);
    assert.equal(await store.authorizedKeys(MAC), ED_PUB + '\n');
    await store.setAuthorizedKeys(MAC, []);
    assert.equal(await store.authorizedKeys(MAC), '');
    await assert.rejects(store.setAuthorizedKeys(MAC, '-----BEGIN OPENSSH PRIVATE KEY-----'), /private key/);
  });
  assert.equal(validateAuthorizedKeys(`# admins\n\nfrom="10.0.0.0/8",no-pty ${ED_PUB}\n`), `from="10.0.0.0/8",no-pty ${ED_PUB}\n`);
  assert.throws(() => validateAuthorizedKeys('ssh-ed25519'), /line 1/);
  assert.throws(() => validateAuthorizedKeys(`${ED_PUB}\nrm -rf /`), /line 2/);
});

test('writes are atomic: no temporary files remain, content replaced whole', async () => {
  await withStore(async (store) => {
    await store.setRootPassword(MAC, SHA512);
    await store.setRootPassword(MAC, YESCRYPT);
    const { readdir } = await import('node:fs/promises');
    assert.deepEqual(await readdir(store.nodeDir(MAC)), ['root_password_hash']);
    assert.equal(await readFile(join(store.nodeDir(MAC), 'root_password_hash'), 'utf8'), YESCRYPT + '\n');
  });
});

test('invalid hostnames and "*" are refused for host keys', async () => {
  await withStore(async (store) => {
    await assert.rejects(store.hostKeys(MAC, 'a b'), /Invalid hostname/);
    await assert.rejects(store.hostKeys(MAC, '-oProxyCommand=x'), /Invalid hostname/);
    await assert.rejects(store.hostKeys('*', 'node1'), /not to "\*"/);
  });
});

test('a missing ssh-keygen gives a clear error', async () => {
  const state = await mkdtemp(join(tmpdir(), 'diskless-secrets-'));
  try {
    const store = await SecretStore.open({ stateDir: state, sshKeygen: '/nonexistent/ssh-keygen' });
    await assert.rejects(store.hostKeys(MAC, 'n'), /not found .*openssh-client/);
    // A stray file at the secrets root with a wide mode is refused too.
    await writeFile(join(state, 'secrets', 'stray'), 'x', { mode: 0o644 });
    await assert.rejects(SecretStore.open({ stateDir: state }), SecretPermissionError);
  } finally {
    await rm(state, { recursive: true, force: true });
  }
});
