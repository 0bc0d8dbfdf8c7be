import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ganeshaConfig } from './ganesha-config.js';

test('ganesha config: NFSv4 only, read-only exports closed to all but the listed clients, no root squash', () => {
  const text = ganeshaConfig({ bindAddress: '10.77.0.1', exports: [{ id: 1, path: '/srv/img', pseudo: '/debian' }], recoveryDir: '/var/lib/diskless/nfs/recovery', versions: [4], clients: ['10.77.0.0/24', '10.78.0.5'] });
  assert.match(text, /NFS_CORE_PARAM \{\n {2}Protocols = 4;\n {2}Bind_addr = 10\.77\.0\.1;\n {2}Enable_NLM = false;\n {2}Enable_RQUOTA = false;\n\}/);
  assert.match(text, /EXPORT \{\n {2}Export_Id = 1;\n {2}Path = "\/srv\/img";\n {2}Pseudo = "\/debian";\n {2}Access_Type = None;\n {2}Squash = No_Root_Squash;\n {2}Protocols = 4;/);
  assert.match(text, /\n {2}CLIENT \{ Clients = 10\.77\.0\.0\/24, 10\.78\.0\.5; Access_Type = RO; \}\n\}\n$/);
  assert.match(text, /Only_Numeric_Owners = true;/);
  assert.match(text, /RecoveryRoot = "\/var\/lib\/diskless\/nfs\/recovery";/);
  assert.doesNotMatch(text, /Mount_Path_Pseudo/);
});

test('ganesha config: NFSv3 beside v4 mounts the same pseudo paths; no clients means no CLIENT block (nobody)', () => {
  const text = ganeshaConfig({ bindAddress: '10.77.0.1', exports: [{ id: 1, path: '/t', pseudo: '/images/lab' }], recoveryDir: '/r', versions: [4, 3], clients: [] });
  assert.match(text, /Protocols = 3, 4;\n {2}Bind_addr = 10\.77\.0\.1;\n {2}Mount_Path_Pseudo = true;/);
  assert.match(text, /Access_Type = None;[^}]*Protocols = 3, 4;/);
  assert.doesNotMatch(text, /CLIENT/);
});

test('ganesha config refuses paths that would break out of a quoted string, and clients that are not addresses', () => {
  for (const path of ['/a"b', '/a\nb', '/a;b', '/a}b']) {
    assert.throws(() => ganeshaConfig({ bindAddress: '10.0.0.1', exports: [{ id: 1, path, pseudo: '/x' }], recoveryDir: '/r', versions: [4], clients: [] }), /Cannot export/);
  }
  for (const client of ['*', '10.0.0.0/24; }', 'host.example', '10.0.0.1,10.0.0.2']) {
    assert.throws(() => ganeshaConfig({ bindAddress: '10.0.0.1', exports: [{ id: 1, path: '/p', pseudo: '/x' }], recoveryDir: '/r', versions: [4], clients: [client] }), /not an IPv4 address or network/);
  }
});

test('nfs-ganesha starts on loopback with an export and stops with us', async (t) => {
  const { GaneshaServer } = await import('./ganesha.js');
  const dir = await mkdtemp(join(tmpdir(), 'dl-nfs-'));
  const server = new GaneshaServer({ bindAddress: '127.0.0.1', exports: [{ id: 7, path: dir, pseudo: '/t' }], clients: ['127.0.0.1'], stateDir: dir });
  t.after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  await server.start();
  const { connect } = await import('node:net');
  const open = await new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: 2049 }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
  assert.ok(open, 'port 2049 answers');
  await server.stop();
  const closed = await new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: 2049 }, () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(true));
  });
  assert.ok(closed, 'stopped with us');
});

test('stop() kills an NFS server that ignores SIGTERM', { timeout: 60_000 }, async (t) => {
  const { GaneshaServer } = await import('./ganesha.js');
  const dir = await mkdtemp(join(tmpdir(), 'dl-nfs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // Stands in for ganesha.nfsd: listens on the NFS port and ignores SIGTERM.
  const binary = join(dir, 'stubborn-ganesha');
  const listen = `process.on('SIGTERM', () => {}); require('node:net').createServer().listen(2049, '127.0.0.1')`;
  await writeFile(binary, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} -e ${JSON.stringify(listen)}\n`, { mode: 0o755 });
  const server = new GaneshaServer({ bindAddress: '127.0.0.1', exports: [{ id: 7, path: dir, pseudo: '/t' }], clients: ['127.0.0.1'], stateDir: dir, binary });
  await server.start();
  await server.stop(); // without a SIGKILL after the grace period this never returns
  const { connect } = await import('node:net');
  const closed = await new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: 2049 }, () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(true));
  });
  assert.ok(closed, 'killed');
});

test('only listed clients may mount, and a new client list applies to a running server (SIGHUP, no restart)', { timeout: 60_000 }, async (t) => {
  const { GaneshaServer } = await import('./ganesha.js');
  const { run } = await import('../process/run.js');
  const dir = await mkdtemp(join(tmpdir(), 'dl-nfs-'));
  await writeFile(join(dir, 'hello'), 'hi\n');
  const server = new GaneshaServer({ bindAddress: '127.0.0.1', exports: [{ id: 3, path: dir, pseudo: '/t' }], clients: ['127.0.0.2'], stateDir: join(dir, 'state') });
  t.after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  await server.start();
  // libnfs's nfs-cat, a user-space NFSv4 client, connects from 127.0.0.1.
  const cat = () => run(['nfs-cat', 'nfs://127.0.0.1/t/hello?version=4'], { check: false, timeoutMs: 20_000 });
  const refused = await cat();
  assert.notEqual(refused.code, 0, `127.0.0.1 is not listed: ${refused.stdout}`);
  assert.match(refused.stderr, /NFS4ERR_NOENT|NFS4ERR_ACCESS|NFS4ERR_PERM/);
  await server.updateClients(['127.0.0.1']);
  const deadline = Date.now() + 15_000;
  let allowed = await cat();
  while (allowed.code !== 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    allowed = await cat();
  }
  assert.equal(allowed.stdout, 'hi\n', allowed.stderr);
});
