// The node side of per-node files: initramfs/lib/diskless/identity.sh run under busybox (wget,
// cpio, sed are its applets, as in the initrd) and openssl against the real node-files endpoint
// on an HTTPS listener, with the boot script (fresh tokens) on a plain one, as in `serve`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
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
import { nodeFilesEndpoint } from '../api/node-files-endpoint.js';
import { SecretsWindows } from './secrets-windows.js';
import { loadServerCertificate } from '../tls/server-certificate.js';
import { reportEndpoint } from '../api/report-endpoint.js';
import type { NodeReport } from '../events/service-events.js';
import { checkReportProof } from './report-proof.js';

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
  // This machine is the node: the neighbour table witness says 127.0.0.1 is MAC.
  const windows = await SecretsWindows.open({ windowMs: 600_000 });
  windows.openFor(MAC);
  const witness = async () => MAC;
  const bootTokens = new BootTokens(tokens, windows, witness, logger);
  const cert = await loadServerCertificate({ address: '127.0.0.1', tlsCertFile: join(dir, 'tls', 'server.crt'), tlsKeyFile: join(dir, 'tls', 'server.key') });
  const https = new HttpServer({
    address: '127.0.0.1',
    port: 0,
    tls: { cert: cert.certPem, key: cert.keyPem },
    handlers: [nodeFilesEndpoint({ config: () => config, tokens, windows, witness, secrets, logger })],
  });
  const reports: NodeReport[] = [];
  const refused: string[] = [];
  const http = new HttpServer({
    address: '127.0.0.1',
    port: 0,
    handlers: [reportEndpoint({
      onReport: (r) => void reports.push(r),
      isKnownMac: (m) => m === MAC,
      onRefused: (r) => void refused.push(r.reason),
      checkProof: async (r) => checkReportProof(await secrets.reportSecret(), r),
    })],
    // The node's own boot script, carrying a fresh token as BootTree would put it.
    resolve: async (p, peer) => (p === `/boot/${MAC}.ipxe` ? memoryFile(`kernel k rd.diskless.token=${await bootTokens.forScript(MAC, peer)} x\n`) : undefined),
  });
  await http.start();
  await https.start();
  const env = {
    PATH: `${bin}:/usr/bin:/bin`, DL_LIB: LIB, DL_LOG: join(dir, 'log'), DL_CONSOLE: join(dir, 'console'),
    DL_FILES: join(dir, 'files.cpio'), DL_NEWROOT: newroot, DL_SERVER: `http://127.0.0.1:${http.port}`, DL_MAC: MAC, DL_RETRY: '20',
    DL_SECRETS_URL: `https://127.0.0.1:${https.port}`, DL_SERVER_CERTS: cert.certFile, DL_UNSENT: join(dir, 'unsent'),
  };
  const run = (token: string, more: Record<string, string> = {}) =>
    busyboxSh(`. "$DL_LIB/common.sh"; . "$DL_LIB/identity.sh"; DL_TOKEN='${token}'; if apply_identity; then echo APPLIED; else echo "FAILED $DL_CAUSE"; fi`, { ...env, ...more });
  return {
    dir, newroot, secrets, tokens, windows, logger, http, https, run, env, reports, refused,
    cleanup: async () => { await http.stop(); await https.stop(); await rm(dir, { recursive: true, force: true }); },
  };
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
    // script for a fresh token, which works inside a boot (a new PXE exchange reopens the window).
    assert.equal(s.windows.get(MAC), undefined, 'the redemption closed the secrets window');
    s.windows.openFor(MAC);
    await rm(join(s.newroot, 'etc/motd'));
    const again = await s.run(token);
    assert.match(again.out, /APPLIED/, again.out);
    assert.ok(await stat(join(s.newroot, 'etc/motd')));
    assert.ok(s.logger.lines.some((l) => l.msg === 'secrets token refused: possible theft' && l.reason === 'reused'));
  } finally {
    await s.cleanup();
  }
});

test('after the identity stage every report proves it is this boot of this node; a changed or forged proof is refused', async () => {
  const s = await setup();
  try {
    const token = s.tokens.issue(MAC, '127.0.0.1');
    const r = await busyboxSh(`. "$DL_LIB/common.sh"; . "$DL_LIB/identity.sh"; DL_NET_UP=1
      report overlay ok duration_ms=3
      DL_TOKEN='${token}'; apply_identity || { echo "FAILED $DL_CAUSE"; exit 1; }
      report identity ok duration_ms=5
      echo "ID=$DL_REPORT_ID PROOF=$(report_proof booted ok)"`, s.env);
    assert.equal(r.status, 0, r.out);
    const [, id, proof] = /ID=(\S+) PROOF=([0-9a-f]{64})/.exec(r.out) ?? [];
    assert.ok(id && proof, r.out);
    assert.deepEqual(s.reports.map((x) => [x.stage, x.proven === undefined ? 'unproven' : 'proven']), [['overlay', 'unproven'], ['identity', 'proven']]);
    const issued = s.reports[1]!.proven!;
    assert.ok(Math.abs(issued - Date.now()) < 60_000, 'the proof names when the token was redeemed');

    // node:http, as busybox wget: fetch() adds the Sec-Fetch-* headers a browser sends.
    const post = (form: Record<string, string>) => new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: s.http.port, method: 'POST', path: '/api/v1/report', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(new URLSearchParams({ mac: MAC, ...form }).toString());
    });
    // The node's own "booted" proof is good for exactly that report.
    assert.equal(await post({ stage: 'booted', status: 'ok', report_id: id!, proof: proof! }), 200);
    assert.equal(s.reports.at(-1)!.proven, issued);
    // Someone who saw it cannot turn it into another stage or status, or another node's.
    assert.equal(await post({ stage: 'root', status: 'failed', report_id: id!, proof: proof! }), 403);
    assert.equal(await post({ stage: 'booted', status: 'ok', report_id: id!.replace(/^\d/, (d) => String((Number(d) + 1) % 10)), proof: proof! }), 403);
    assert.equal(await post({ stage: 'booted', status: 'ok', report_id: id!, proof: 'ab'.repeat(32) }), 403);
    // A "proven" field sent by the node is not the server's mark.
    assert.equal(await post({ stage: 'booted', status: 'ok', proven: String(issued) }), 200);
    assert.equal(s.reports.at(-1)!.proven, undefined);
    assert.equal(s.reports.at(-1)!.fields.proven, undefined);
    assert.deepEqual(s.refused, ['bad-proof', 'bad-proof', 'bad-proof']);

    // The booted system's unit (handoff.sh) carries its one proof, in a script only root reads.
    const run = join(s.dir, 'run');
    await mkdir(join(s.newroot, 'etc/systemd/system'), { recursive: true });
    s.windows.openFor(MAC);
    const unit = await busyboxSh(`. "$DL_LIB/common.sh"; . "$DL_LIB/identity.sh"; . "$DL_LIB/handoff.sh"; DL_NET_UP=1
      DL_TOKEN='${s.tokens.issue(MAC, '127.0.0.1')}'; apply_identity && install_booted_unit && echo INSTALLED`, { ...s.env, DL_RUN: run });
    assert.match(unit.out, /INSTALLED/, unit.out);
    const booted = join(run, 'diskless/report-booted');
    assert.equal((await stat(booted)).mode & 0o777, 0o700);
    const text = await readFile(booted, 'utf8');
    assert.doesNotMatch(text, /[0-9a-f]{64} [0-9a-f]{64}|hexkey/, 'the key itself is not in it');
    await writeFile(booted, text.replaceAll('/run/diskless/bin/busybox', '/bin/busybox'));
    const sent = s.reports.length;
    const r2 = await busyboxSh(`sh "${booted}"; echo rc=$?`, s.env);
    assert.match(r2.out, /rc=0/, r2.out);
    assert.equal(s.reports.length, sent + 1);
    const last = s.reports.at(-1)!;
    assert.deepEqual([last.stage, last.status, typeof last.proven, last.fields.uptime_s !== undefined], ['booted', 'ok', 'number', true]);
    assert.ok(last.proven! >= issued, 'proven with the key of the later redemption');

    // A root without systemd gets the same proven script, for its own init to run, and no unit.
    const run2 = join(s.dir, 'run2');
    await rm(join(s.newroot, 'etc/systemd'), { recursive: true, force: true });
    s.windows.openFor(MAC);
    const bare = await busyboxSh(`. "$DL_LIB/common.sh"; . "$DL_LIB/identity.sh"; . "$DL_LIB/handoff.sh"; DL_NET_UP=1
      DL_TOKEN='${s.tokens.issue(MAC, '127.0.0.1')}'; apply_identity && install_booted_unit && echo INSTALLED`, { ...s.env, DL_RUN: run2 });
    assert.match(bare.out, /INSTALLED/, bare.out);
    await assert.rejects(stat(join(s.newroot, 'etc/systemd')), 'no unit written into a root without systemd');
    const booted2 = join(run2, 'diskless/report-booted');
    assert.equal((await stat(booted2)).mode & 0o777, 0o700);
    await writeFile(booted2, (await readFile(booted2, 'utf8')).replaceAll('/run/diskless/bin/busybox', '/bin/busybox'));
    const r3 = await busyboxSh(`sh "${booted2}"; echo rc=$?`, s.env);
    assert.match(r3.out, /rc=0/, r3.out);
    assert.deepEqual([s.reports.at(-1)!.stage, typeof s.reports.at(-1)!.proven], ['booted', 'number'], 'its report is proven');
  } finally {
    await s.cleanup();
  }
});

test('apply_identity fails the stage, naming the server, when no token is ever accepted', async () => {
  const s = await setup();
  try {
    // Neither listener answers, so no token ever works.
    await s.http.stop();
    await s.https.stop();
    const r = await s.run('A'.repeat(43), { DL_RETRY: '4', DL_SECRETS_URL: 'https://127.0.0.1:9' });
    assert.match(r.out, /FAILED no files for this node from https:\/\/127\.0\.0\.1:9 within rd\.retry=4 s/, r.out);
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

test('the token goes only to a server whose certificate the initrd carries: another certificate gets nothing, not even the token', async () => {
  const s = await setup();
  try {
    const other = await loadServerCertificate({ address: '127.0.0.1', tlsCertFile: join(s.dir, 'other', 'c.pem'), tlsKeyFile: join(s.dir, 'other', 'k.pem') });
    const token = s.tokens.issue(MAC, '127.0.0.1');
    const r = await s.run(token, { DL_RETRY: '2', DL_SERVER_CERTS: other.certFile });
    assert.match(r.out, /FAILED no files for this node/, r.out);
    assert.equal(s.logger.lines.filter((l) => String(l.msg).startsWith('secrets token refused') || l.msg === 'node files sent').length, 0, 'the server never saw a token');
    assert.match(await readFile(join(s.dir, 'log'), 'utf8'), /TLS to 127\.0\.0\.1:\d+ failed/);
    // The right certificate: the same unspent token works.
    assert.match((await s.run(token)).out, /APPLIED/);
  } finally {
    await s.cleanup();
  }
});

test('an initrd without server certificates refuses to send its token, saying how to fix it', async () => {
  const s = await setup();
  try {
    const r = await s.run(s.tokens.issue(MAC, '127.0.0.1'), { DL_SERVER_CERTS: join(s.dir, 'none.pem') });
    assert.match(r.out, /FAILED this initrd carries no server certificate .*rebuild it/, r.out);
  } finally {
    await s.cleanup();
  }
});

test('outside a boot (window closed) a token, valid or not, gets nothing and raises an alert; no fresh token is handed out', async () => {
  const s = await setup();
  try {
    const token = s.tokens.issue(MAC, '127.0.0.1');
    s.windows.close(MAC, 'switch_root');
    const r = await s.run(token, { DL_RETRY: '4' });
    assert.match(r.out, /FAILED no files for this node/, r.out);
    await assert.rejects(stat(join(s.newroot, 'etc/motd')));
    const alerts = s.logger.lines.filter((l) => l.alert === true);
    assert.ok(alerts.some((l) => l.reason === 'outside-boot'), JSON.stringify(alerts));
    assert.ok(s.logger.lines.some((l) => l.msg === 'boot script without a secrets token: no boot of this machine in progress'));
  } finally {
    await s.cleanup();
  }
});
