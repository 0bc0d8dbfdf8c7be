// Unattended failures end to end on one host: the node's own shell (initramfs/lib/diskless, run
// under the busybox the initrd carries) fails a stage under rd.shell=0, uploads its report with
// busybox wget to the real endpoint, which keeps it in the store, and then reboots instead of
// opening a shell. Only reboot, sleep and the console shell are stand-ins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpServer } from '../http/server.js';
import { failureReportEndpoint, type RefusedReport } from './report-endpoint.js';
import { FailureReportStore, MAX_REPORT_TEXT } from '../events/failure-reports.js';

const LIB = resolve(fileURLToPath(import.meta.url), '../../../../initramfs/lib/diskless');
const KNOWN = '52:54:00:00:00:01';

async function serve(t: { after(fn: () => unknown): void }, dir: string) {
  const store = new FailureReportStore({ path: join(dir, 'failure-reports.json'), writeIntervalMs: 0 });
  const refused: RefusedReport[] = [];
  const server = new HttpServer({
    address: '127.0.0.1',
    port: 0,
    resolve: async () => undefined,
    handlers: [failureReportEndpoint({ isKnownMac: (mac) => mac === KNOWN, onFailureReport: (r) => store.put(r), onRefused: (r) => refused.push(r) })],
  });
  await server.start();
  t.after(() => server.stop());
  return { url: `http://127.0.0.1:${server.port}`, port: server.port, store, refused };
}

/** Runs `script` after sourcing the node's common.sh and cmdline.sh, asynchronously (the server answers meanwhile). */
function nodeShell(dir: string, script: string, env: Record<string, string>): Promise<{ out: string; err: string; code: number }> {
  return new Promise((done) => {
    execFile('/bin/busybox', ['sh', '-c', `. "$DL_LIB/common.sh"; . "$DL_LIB/cmdline.sh"\n${script}`], {
      cwd: dir,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DL_LIB: LIB, DL_LOG: join(dir, 'log'), DL_CONSOLE: join(dir, 'console'), DL_SOSREPORT: join(dir, 'rdsosreport.txt'), DL_UNSENT: join(dir, 'unsent'), ...env },
      encoding: 'utf8',
      timeout: 60_000,
    }, (e, out, err) => done({ out, err, code: e ? (typeof e.code === 'number' ? e.code : -1) : 0 }));
  });
}

// Stand-ins: what the node would do to the machine, written down instead.
const STANDINS = `
reboot() { echo "ACTION reboot $*"; exit 0; }
poweroff() { echo "ACTION poweroff $*"; exit 0; }
sleep() { echo "SLEEP $*"; }
shell_on_console() { echo SHELL; exit 0; }
`;

test('rd.shell=0: a failed stage uploads its report (busybox wget to the real endpoint, kept by the store, token removed) and reboots after the delay instead of opening a shell', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-failrep-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { url, store } = await serve(t, dir);
  writeFileSync(join(dir, 'cmdline'), 'console=ttyS0 rd.shell=0 rd.emergency=poweroff rd.diskless.failure_delay=7 rd.diskless.token=SECRETTOKEN123 root=nbd:10.0.0.1:10809/x\n');
  // A cause with characters a form and a shell both care about, a log line with a control character.
  writeFileSync(join(dir, 'log'), `1.00 attaching the root\n1.50 odd \x1b[31mescape & done=1\n`);
  const r = await nodeShell(dir, `${STANDINS}
    parse_cmdline
    DL_SERVER=${url} DL_NET_UP=1 DL_MAC=${KNOWN} DL_STAGE=root
    fail 'NBD server refused export "x" & gave up; $(reboot)'`, { DL_CMDLINE_FILE: join(dir, 'cmdline') });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.out.trim().split('\n'), ['SLEEP 7', 'ACTION poweroff -f'], 'no shell: the delay, then rd.emergency\'s action');
  const console = readFileSync(join(dir, 'console'), 'utf8');
  assert.match(console, /the failure report is sent to http:\/\/127\.0\.0\.1:\d+/);
  assert.match(console, /rd\.shell=0: no shell; poweroff in 7 s/);
  const kept = store.get(KNOWN);
  assert.ok(kept, 'the server kept the report');
  assert.equal(kept.stage, 'root');
  assert.equal(kept.cause, 'NBD server refused export "x" & gave up; $(reboot)');
  assert.match(kept.text, /^== diskless failure report ==\nstage: root\ncause: NBD server refused/);
  assert.match(kept.text, /^1\.50 odd \?\[31mescape & done=1$/m, 'the log, its escape character made inert');
  assert.match(kept.text, /rd\.diskless\.token=\(removed\)/);
  assert.doesNotMatch(kept.text, /SECRETTOKEN123/, 'the unspent token is not in the report');
  assert.doesNotMatch(readFileSync(join(dir, 'rdsosreport.txt'), 'utf8'), /SECRETTOKEN123/, 'nor in the copy on the node');
  await store.flush();
  assert.equal(statSync(join(dir, 'failure-reports.json')).mode & 0o777, 0o600);
  const reread = new FailureReportStore({ path: join(dir, 'failure-reports.json') });
  assert.equal(reread.get(KNOWN)?.cause, kept.cause, 'kept across a restart');
});

test('without rd.shell=0 a failure opens the console shell and sends nothing; under rd.shell=0 with the network down the report stays on the node and the node still reboots', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-failrep-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { url, store } = await serve(t, dir);
  writeFileSync(join(dir, 'cmdline'), 'rd.shell=0 rd.shell root=nbd:10.0.0.1:10809/x\n');
  const shell = await nodeShell(dir, `${STANDINS}
    parse_cmdline; DL_SERVER=${url} DL_NET_UP=1 DL_MAC=${KNOWN} DL_STAGE=root; fail broken`, { DL_CMDLINE_FILE: join(dir, 'cmdline') });
  assert.equal(shell.out.trim(), 'SHELL', 'rd.shell after rd.shell=0 (the rescue entry): the shell wins');
  assert.equal(store.get(KNOWN), undefined);

  writeFileSync(join(dir, 'cmdline'), 'rd.shell=0 root=nbd:10.0.0.1:10809/x\n');
  const down = await nodeShell(dir, `${STANDINS}
    parse_cmdline; DL_SERVER=${url} DL_NET_UP= DL_MAC= DL_STAGE=modules; fail no NIC`, { DL_CMDLINE_FILE: join(dir, 'cmdline') });
  assert.deepEqual(down.out.trim().split('\n'), ['SLEEP 30', 'ACTION reboot -f'], 'defaults: reboot after 30 s');
  assert.match(readFileSync(join(dir, 'console'), 'utf8'), /the failure report stays here: the network is not up/);
  assert.equal(store.get(KNOWN), undefined);
});

test('check_cmdline refuses an rd.emergency or failure delay it cannot act on', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-failrep-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [args, want] of [['rd.emergency=kexec', /rd\.emergency=kexec: expected reboot, poweroff or halt/], ['rd.diskless.failure_delay=1m', /rd\.diskless\.failure_delay=1m: expected a number of seconds/]] as const) {
    writeFileSync(join(dir, 'cmdline'), `root=live:http://s/i ${args}\n`);
    const r = await nodeShell(dir, 'parse_cmdline; if check_cmdline; then echo OK; else echo "ERR $DL_CAUSE"; fi', { DL_CMDLINE_FILE: join(dir, 'cmdline') });
    assert.match(r.out, want);
  }
});

test('failure reports: the endpoint refuses what a node would not send; the store keeps one per machine, bounded, oldest dropped first', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-failrep-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { port, store, refused } = await serve(t, dir);
  const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }) => new Promise<number>((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/failure-report', method: 'POST', headers }, (res) => { res.resume(); res.on('end', () => done(res.statusCode ?? 0)); });
    req.on('error', fail);
    req.end(body);
  });
  assert.equal(await post(`mac=${KNOWN}&stage=$(x)&report=a`), 400);
  assert.equal(await post('mac=02:00:00:00:00:99&stage=root&report=a'), 403);
  assert.equal(await post(`mac=${KNOWN}&stage=root&report=a`, { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' }), 403);
  assert.equal(await post(`mac=${KNOWN}&stage=root&report=${'x'.repeat(170 * 1024)}`), 413);
  assert.deepEqual(refused.map((r) => r.reason), ['unknown-mac', 'from-browser']);
  assert.equal(store.size, 0);
  assert.equal(await post(`mac=${KNOWN}&stage=root&cause=first&report=one`), 200);
  assert.equal(await post(`mac=${KNOWN}&stage=network&cause=second&report=two`), 200);
  assert.deepEqual([store.size, store.get(KNOWN)?.cause, store.get(KNOWN)?.text], [1, 'second', 'two'], 'the last one replaces the one before');

  let clock = 0;
  const small = new FailureReportStore({ path: join(dir, 'small.json'), maxEntries: 2, now: () => ++clock * 1000, writeIntervalMs: 0 });
  for (const mac of ['02:00:00:00:00:01', '02:00:00:00:00:02', '02:00:00:00:00:03']) small.put({ mac, stage: 'root', cause: 'c', text: 't'.repeat(MAX_REPORT_TEXT + 5) });
  assert.deepEqual([small.get('02:00:00:00:00:01'), small.size], [undefined, 2]);
  assert.deepEqual([small.get('02:00:00:00:00:03')?.text.length, small.get('02:00:00:00:00:03')?.truncated], [MAX_REPORT_TEXT, true]);
});
