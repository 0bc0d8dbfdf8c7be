// The node side of per-node files: initramfs/lib/diskless/identity.sh run under busybox (wget,
// cpio, sed are its applets, as in the initrd) against the real node-files endpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpServer } from '../http/server.js';
import { memoryFile } from '../files/boot-file.js';
import { parseConfig } from '../config/load.js';
import { memoryLogger } from '../log/logger.js';
import { SecretStore } from '../secrets/secret-store.js';
import { TokenIssuer } from '../secrets/tokens.js';
import { BootTokens } from './boot-tokens.js';
import { nodeFilesEndpoint } from './node-files-endpoint.js';

const LIB = resolve(fileURLToPath(import.meta.url), '../../../../initramfs/lib/diskless');
const MAC = '52:54:00:aa:bb:01';
const HASH = '$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1';

function busyboxSh(script: string, env: Record<string, string>): Promise<{ out: string; status: number | null }> {
  return new Promise((res) => {
    const p = spawn('/bin/busybox', ['sh', '-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c));
    p.stderr.on('data', (c: Buffer) => (out += c));
    p.on('close', (status) => res({ out, status }));
  });
}

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'dl-identity-'));
  const bin = join(dir, 'bin');
  await mkdir(bin);
  for (const applet of ['wget', 'cpio', 'sed', 'timeout', 'head', 'wc', 'sleep', 'touch', 'rm', 'cut', 'awk', 'od', 'tr', 'printf', 'cat']) {
    await symlink('/bin/busybox', join(bin, applet));
  }
  const newroot = join(dir, 'newroot');
  await mkdir(join(newroot, 'etc'), { recursive: true });
  await writeFile(join(newroot, 'etc/shadow'), 'root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n', { mode: 0o640 });
  await mkdir(join(dir, 'state'));
  await writeFile(join(dir, 'motd.tpl'), 'Welcome to {{hostname}} ({{mac}}) from {{server}}, $HOME stays\n');
  const config = parseConfig(`
server: { address: 127.0.0.1, state_dir: ${join(dir, 'state')} }
dhcp: { mode: off }
profiles:
  p:
    kernel: /k
    files:
      - { path: /etc/motd, source: ${join(dir, 'motd.tpl')}, template: true }
      - { path: /etc/cron.d/job, content: "* * * * * root true\\n", mode: "0600" }
nodes:
  - { mac: "${MAC}", hostname: node7, profile: p }
`, join(dir, 'diskless.yaml'));
  const logger = memoryLogger();
  const secrets = await SecretStore.open({ stateDir: config.server.stateDir });
  await secrets.setRootPassword(MAC, HASH);
  const tokens = new TokenIssuer({ ttlMs: 60_000 });
  const bootTokens = new BootTokens(tokens, async () => MAC, logger);
  const http = new HttpServer({
    address: '127.0.0.1',
    port: 0,
    handlers: [nodeFilesEndpoint({ config: () => config, tokens, secrets, logger })],
    // The node's own boot script, carrying a fresh token as BootTree would put it.
    resolve: async (p, peer) => (p === `/boot/${MAC}.ipxe` ? memoryFile(`kernel k rd.diskless.token=${await bootTokens.forScript(MAC, peer)} x\n`) : undefined),
  });
  await http.start();
  const env = {
    PATH: `${bin}:/usr/bin:/bin`, DL_LIB: LIB, DL_LOG: join(dir, 'log'), DL_CONSOLE: join(dir, 'console'),
    DL_FILES: join(dir, 'files.cpio'), DL_NEWROOT: newroot, DL_SERVER: `http://127.0.0.1:${http.port}`, DL_MAC: MAC, DL_RETRY: '20',
  };
  const run = (token: string) =>
    busyboxSh(`. "$DL_LIB/common.sh"; . "$DL_LIB/identity.sh"; DL_TOKEN='${token}'; if apply_identity; then echo APPLIED; else echo "FAILED $DL_CAUSE"; fi`, env);
  return { dir, newroot, secrets, tokens, logger, http, run, cleanup: async () => { await http.stop(); await rm(dir, { recursive: true, force: true }); } };
}

test('apply_identity puts host keys, templates and root password into the new root; a spent token is replaced by a fresh one', async () => {
  const s = await setup();
  try {
    const token = s.tokens.issue(MAC, '127.0.0.1');
    const r = await s.run(token);
    assert.match(r.out, /APPLIED/, r.out);
    const { files } = await s.secrets.hostKeys(MAC, 'node7');
    for (const f of files) {
      assert.deepEqual(await readFile(join(s.newroot, f.path)), f.content, f.path);
      assert.equal((await stat(join(s.newroot, f.path))).mode & 0o777, f.mode, f.path);
    }
    assert.equal(await readFile(join(s.newroot, 'etc/motd'), 'utf8'), `Welcome to node7 (${MAC}) from 127.0.0.1, $HOME stays\n`);
    assert.equal((await stat(join(s.newroot, 'etc/cron.d/job'))).mode & 0o777, 0o600);
    const shadow = await readFile(join(s.newroot, 'etc/shadow'), 'utf8');
    assert.equal(shadow, `root:${HASH}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n`);
    assert.equal((await stat(join(s.newroot, 'etc/shadow'))).mode & 0o777, 0o640, 'sed -i keeps the mode of /etc/shadow');
    await assert.rejects(stat(join(s.newroot, 'etc/diskless/root-password-hash')), 'the hash file is removed once applied');
    await assert.rejects(stat(join(s.dir, 'files.cpio')), 'the archive does not stay in RAM');

    // The same token again (a replay): refused with an alert; the node then asks its boot
    // script for a fresh token, which works.
    await rm(join(s.newroot, 'etc/motd'));
    const again = await s.run(token);
    assert.match(again.out, /APPLIED/, again.out);
    assert.ok(await stat(join(s.newroot, 'etc/motd')));
    assert.ok(s.logger.lines.some((l) => l.msg === 'secrets token refused: possible theft' && l.reason === 'reused'));
  } finally {
    await s.cleanup();
  }
});

test('apply_identity fails the stage, naming the server, when no token is ever accepted', async () => {
  const s = await setup();
  try {
    // Boot scripts fetched from here carry no token (the owner check fails), so nothing works.
    await s.http.stop();
    const r = await busyboxSh(`. "$DL_LIB/common.sh"; . "$DL_LIB/identity.sh"; DL_RETRY=4; DL_TOKEN=${'A'.repeat(43)}; if apply_identity; then echo APPLIED; else echo "FAILED $DL_CAUSE"; fi`, {
      PATH: `${s.dir}/bin:/usr/bin:/bin`, DL_LIB: LIB, DL_LOG: join(s.dir, 'log'), DL_CONSOLE: join(s.dir, 'console'),
      DL_FILES: join(s.dir, 'files.cpio'), DL_NEWROOT: s.newroot, DL_SERVER: 'http://127.0.0.1:9', DL_MAC: MAC,
    });
    assert.match(r.out, /FAILED no files for this node from http:\/\/127\.0\.0\.1:9 within rd\.retry=4 s/, r.out);
    assert.equal(await readFile(join(s.newroot, 'etc/shadow'), 'utf8'), 'root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n');
  } finally {
    await s.cleanup();
  }
});

test('without a token the image identity is kept and nothing is fetched', async () => {
  const s = await setup();
  try {
    const r = await s.run('');
    assert.match(r.out, /APPLIED/);
    await assert.rejects(stat(join(s.newroot, 'etc/ssh')));
  } finally {
    await s.cleanup();
  }
});
