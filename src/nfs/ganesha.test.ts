import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ganeshaConfig } from './ganesha-config.js';

test('ganesha config: NFSv4 only, read-only exports, no root squash', () => {
  const text = ganeshaConfig({ bindAddress: '10.77.0.1', exports: [{ id: 1, path: '/srv/img', pseudo: '/debian' }], recoveryDir: '/var/lib/diskless/nfs/recovery' });
  assert.match(text, /NFS_CORE_PARAM \{\n {2}Protocols = 4;\n {2}Bind_addr = 10\.77\.0\.1;\n {2}Enable_NLM = false;\n {2}Enable_RQUOTA = false;\n\}/);
  assert.match(text, /EXPORT \{\n {2}Export_Id = 1;\n {2}Path = "\/srv\/img";\n {2}Pseudo = "\/debian";\n {2}Access_Type = RO;\n {2}Squash = No_Root_Squash;/);
  assert.match(text, /Only_Numeric_Owners = true;/);
  assert.match(text, /RecoveryRoot = "\/var\/lib\/diskless\/nfs\/recovery";/);
});

test('ganesha config refuses paths that would break out of a quoted string', () => {
  for (const path of ['/a"b', '/a\nb', '/a;b', '/a}b']) {
    assert.throws(() => ganeshaConfig({ bindAddress: '10.0.0.1', exports: [{ id: 1, path, pseudo: '/x' }], recoveryDir: '/r' }), /Cannot export/);
  }
});

test('nfs-ganesha starts on loopback with an export and stops with us', async (t) => {
  const { GaneshaServer } = await import('./ganesha.js');
  const dir = await mkdtemp(join(tmpdir(), 'dl-nfs-'));
  const server = new GaneshaServer({ bindAddress: '127.0.0.1', exports: [{ id: 7, path: dir, pseudo: '/t' }], stateDir: dir });
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
  const server = new GaneshaServer({ bindAddress: '127.0.0.1', exports: [{ id: 7, path: dir, pseudo: '/t' }], stateDir: dir, binary });
  await server.start();
  await server.stop(); // without a SIGKILL after the grace period this never returns
  const { connect } = await import('node:net');
  const closed = await new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: 2049 }, () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(true));
  });
  assert.ok(closed, 'killed');
});
