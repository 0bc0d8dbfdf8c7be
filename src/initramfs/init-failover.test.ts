// /init with several boot servers (rd.diskless.peer=URL after diskless.server): the live root,
// reports, fresh tokens and node files are asked of the next server when one refuses the
// connection, resets it mid-answer or answers with an error, and the one that answered is asked
// first from then on; an NBD root attaches to the first server that serves the export and hands
// the keeper the others. Real busybox wget against real HTTP servers on loopback addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';

const LIB = resolve(fileURLToPath(import.meta.url), '../../../../initramfs/lib/diskless');
const IMAGE = Buffer.alloc(64 * 1024, 7);

function busyboxSh(dir: string, script: string, env: Record<string, string> = {}): Promise<{ out: string; err: string; status: number | null }> {
  return new Promise((res) => {
    const p = spawn('/bin/busybox', ['sh', '-c', script], {
      cwd: dir,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DL_LIB: LIB, DL_LOG: join(dir, 'log'), DL_CONSOLE: join(dir, 'console'), DL_UNSENT: join(dir, 'unsent'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => (out += c));
    p.stderr.on('data', (c: Buffer) => (err += c));
    p.on('close', (status) => res({ out, err, status }));
  });
}

type Behaviour = 'reset' | 'error' | 'ok' | 'closed';

/** A boot server stand-in on `address`: what it does with every request, and what it was asked. */
async function server(t: { after(fn: () => Promise<void>): void }, address: string, behaviour: Behaviour): Promise<{ url: string; asked: string[] }> {
  const asked: string[] = [];
  const s: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      asked.push(`${req.method} ${req.url}${body ? ` ${body}` : ''}`);
      if (behaviour === 'error') {
        res.writeHead(503).end('database away');
      } else if (behaviour === 'reset') {
        // Killed mid-answer: the headers promise the whole image, a tenth of it comes, then RST.
        res.writeHead(200, { 'content-length': IMAGE.length });
        res.write(IMAGE.subarray(0, IMAGE.length / 10), () => req.socket.resetAndDestroy());
      } else if (req.url?.endsWith('.ipxe')) {
        res.end(`#!ipxe\nkernel \${base}/k root=live:x rd.diskless.token=NEWTOKEN_${address.replace(/\./g, '_')} BOOTIF=01-x\n`);
      } else {
        res.end(req.method === 'POST' ? '' : IMAGE);
      }
    });
  });
  await new Promise<void>((r) => s.listen(0, address, r));
  const port = (s.address() as AddressInfo).port;
  if (behaviour === 'closed') await new Promise((r) => s.close(r)); // the port refuses connections from now on
  else t.after(() => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); }));
  return { url: `http://${address}:${port}`, asked };
}

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dl-failover-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('rd.diskless.peer: repeated, kept in order; anything but http://ADDRESS[:PORT] is refused and never runs', async (t) => {
  const dir = await tempDir(t);
  const ok = await busyboxSh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/cmdline.sh"
    echo "root=live:http://10.0.0.1/i diskless.server=http://10.0.0.1 rd.diskless.peer=http://10.0.0.2:8080 rd.diskless.peer=http://10.0.0.3" > cmdline
    DL_CMDLINE_FILE=cmdline; parse_cmdline; check_cmdline && printf '%s\\n' "$DL_PEERS"`);
  assert.equal(ok.out, 'http://10.0.0.2:8080 http://10.0.0.3\n', ok.err);
  for (const peer of ['http://10.0.0.2/$(touch${IFS}PWNED)', 'http://evil.example', 'https://10.0.0.2', 'http://10.0.0.2:80:1', 'http://10.0.0.256', 'http://*', 'http://10.0.0.2:']) {
    const r = await busyboxSh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/cmdline.sh"
      printf '%s\\n' 'root=live:http://10.0.0.1/i rd.diskless.peer=${peer}' > cmdline
      DL_CMDLINE_FILE=cmdline; parse_cmdline; check_cmdline; echo "rc=$? $DL_CAUSE"`);
    assert.match(r.out, /^rc=1 rd\.diskless\.peer=\S+: expected http:\/\/ADDRESS\[:PORT\]$/m, `${peer}: ${r.out}${r.err}`);
  }
  assert.equal((await busyboxSh(dir, 'ls PWNED* 2>/dev/null; true')).out, '');
});

test('the live root comes from the next server when one resets mid-download, refuses or answers 503; reports follow the one that answered', async (t) => {
  const dir = await tempDir(t);
  const a = await server(t, '127.0.0.2', 'reset');
  const b = await server(t, '127.0.0.3', 'closed');
  const c = await server(t, '127.0.0.4', 'error');
  const d = await server(t, '127.0.0.5', 'ok');
  const r = await busyboxSh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/root.sh"
    DL_MNT=$PWD/mnt DL_LOWER=$PWD/mnt/lower DL_IMAGE_DIR=$PWD/mnt/image
    modprobe() { :; }; mount() { :; }
    DL_SERVER=${a.url} DL_PEERS="${b.url} ${c.url} ${d.url}" DL_NET_UP=1 DL_MAC=52:54:00:00:00:01
    DL_ROOT_KIND=live DL_ROOT_URL=${a.url}/store/lab/0123456789abcdef/root.sqfs DL_RETRY=60
    DL_SHA256=${createHash('sha256').update(IMAGE).digest('hex')}
    run_stage root attach_root_with_retry
    report later ok x=1
    echo "now=$DL_SERVER_NOW"`, {});
  assert.equal(r.status, 0, `${r.out}${r.err}${await readFile(join(dir, 'console'), 'utf8').catch(() => '')}`);
  assert.match(r.out, new RegExp(`now=${d.url}`));
  assert.deepEqual((await readFile(join(dir, 'mnt/image/root.sqfs'))).equals(IMAGE), true, 'the whole image, from the fourth server');
  assert.deepEqual(a.asked, ['GET /store/lab/0123456789abcdef/root.sqfs'], 'the first server was asked once, and no report went to it after the reset');
  assert.deepEqual(c.asked.filter((l) => l.startsWith('GET')), ['GET /store/lab/0123456789abcdef/root.sqfs']);
  const reports = d.asked.filter((l) => l.startsWith('POST /api/v1/report')).map((l) => new URLSearchParams(l.split(' ')[2]));
  assert.deepEqual(reports.map((p) => p.get('stage')), ['fetched', 'verified', 'root', 'later']);
  assert.equal(reports[0]!.get('detail')?.match(/from=(\S+)/)?.[1], `${d.url}/store/lab/0123456789abcdef/root.sqfs`);
  const console = await readFile(join(dir, 'console'), 'utf8');
  assert.match(console, new RegExp(`server ${d.url.replace(/\./g, '\\.')} answers; ${a.url.replace(/\./g, '\\.')} did not`));
});

test('a root outside the boot servers (another web server) is fetched from there only', async (t) => {
  const dir = await tempDir(t);
  const a = await server(t, '127.0.0.2', 'ok');
  const web = await server(t, '127.0.0.6', 'error');
  const r = await busyboxSh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/root.sh"
    DL_IMAGE_DIR=$PWD/img; mkdir -p img
    DL_SERVER=${a.url} DL_PEERS="${a.url.replace('127.0.0.2', '127.0.0.9')}" DL_ROOT_URL=${web.url}/root.sqfs
    fetch_live_root; echo "rc=$?"`);
  assert.match(r.out, /rc=1/);
  assert.deepEqual(a.asked, []);
  assert.equal(web.asked.length, 1);
});

test('a fresh token comes from the next server\'s boot script; node files are asked of each server\'s secrets listener until one answers, but not past a refusal', async (t) => {
  const dir = await tempDir(t);
  const a = await server(t, '127.0.0.2', 'closed');
  const b = await server(t, '127.0.0.3', 'ok');
  const r = await busyboxSh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/identity.sh"
    DL_SERVER=${a.url} DL_PEERS="${b.url} http://127.0.0.4:81" DL_MAC=52:54:00:00:00:01 DL_SECRETS_URL=https://127.0.0.2:8443
    echo "token=$(fresh_token)"
    # Which listener each try reaches, and what it answers: 2 no answer, 1 refused, 0 files.
    fetch_node_files_from() { echo "asked $1 $2"; case "$1" in 127.0.0.3:8443) return 2 ;; 127.0.0.4:8443) return 0 ;; esac; return 2; }
    fetch_node_files TOK; echo "rc=$? now=$DL_SERVER_NOW"
    DL_SERVER_NOW=""
    fetch_node_files_from() { echo "asked $1 $2"; return 1; }
    fetch_node_files TOK2; echo "rc=$?"`);
  assert.equal(r.status, 0, r.err);
  assert.deepEqual(r.out.trim().split('\n'), [
    'token=NEWTOKEN_127_0_0_3',
    'asked 127.0.0.2:8443 TOK',
    'asked 127.0.0.3:8443 TOK',
    'asked 127.0.0.4:8443 TOK',
    'rc=0 now=http://127.0.0.4:81',
    'asked 127.0.0.2:8443 TOK2',
    'rc=1',
  ]);
  assert.deepEqual(b.asked, ['GET /boot/52:54:00:00:00:01.ipxe']);
});

test('an NBD root attaches to the first server that serves the export, and the keeper is handed it first, then the others', async (t) => {
  const dir = await tempDir(t);
  const r = await busyboxSh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/root.sh"
    DL_MNT=$PWD/mnt DL_LOWER=$PWD/mnt/lower
    modprobe() { :; }; mount() { :; }
    mkdir -p bin; printf '#!/bin/busybox sh\necho "nbd-client $1 $2 $5" >> tried; [ "$1" = 10.0.0.3 ]\n' > bin/nbd-client; chmod +x bin/nbd-client; PATH=$PWD/bin:$PATH
    keep_nbd_attached() { echo "keeper $*" >> tried; }
    DL_SERVER=http://10.0.0.1 DL_PEERS="http://10.0.0.2:8080 http://10.0.0.3 http://10.0.0.4" DL_ROOT=nbd:10.0.0.1:10809/lab@0123456789abcdef
    attach_nbd; echo "rc=$? $DL_STAGE_DETAIL"; cat tried`);
  assert.equal(r.status, 0, r.err);
  assert.deepEqual(r.out.trim().split('\n'), [
    'rc=0 nbd_server=10.0.0.3',
    'nbd-client 10.0.0.1 10809 lab@0123456789abcdef',
    'nbd-client 10.0.0.2 10809 lab@0123456789abcdef',
    'nbd-client 10.0.0.3 10809 lab@0123456789abcdef',
    'keeper 10.0.0.3,10.0.0.4,10.0.0.1,10.0.0.2 10809 lab@0123456789abcdef',
  ]);
  // One server, as before: its address alone.
  const one = await busyboxSh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/root.sh"
    DL_MNT=$PWD/mnt DL_LOWER=$PWD/mnt/lower
    modprobe() { :; }; mount() { :; }; printf '#!/bin/busybox sh\nexit 0\n' > bin/nbd-client; PATH=$PWD/bin:$PATH
    keep_nbd_attached() { echo "keeper $*"; }
    DL_SERVER=http://10.0.0.1 DL_PEERS="" DL_ROOT=nbd:10.0.0.1:10809/lab
    attach_nbd`);
  assert.equal(one.out.trim(), 'keeper 10.0.0.1 10809 lab');
});

test('the booted system\'s "booted" report goes to the first server that takes it, the one that answered last first', async (t) => {
  const dir = await tempDir(t);
  const a = await server(t, '127.0.0.2', 'closed');
  const b = await server(t, '127.0.0.3', 'error');
  const c = await server(t, '127.0.0.4', 'ok');
  const r = await busyboxSh(dir, `. "$DL_LIB/common.sh"; . "$DL_LIB/handoff.sh"
    mkdir -p newroot/etc/systemd/system
    DL_NEWROOT=$PWD/newroot DL_RUN=$PWD/run DL_BUSYBOX=/bin/busybox DL_MAC=52:54:00:00:00:01
    DL_SERVER=${a.url} DL_PEERS="${b.url} ${c.url}" DL_SERVER_NOW=${b.url}
    install_booted_unit && sed 's|/run/diskless/bin/busybox|/bin/busybox|g' run/diskless/report-booted > booted && sh booted; echo "rc=$?"
    grep '^servers=' run/diskless/report-booted`);
  assert.match(r.out, /^rc=0$/m, `${r.out}${r.err}`);
  assert.match(r.out, new RegExp(`^servers='${b.url} ${a.url} ${c.url} '$`, 'm'));
  assert.equal(b.asked.length, 1);
  assert.deepEqual(c.asked.map((l) => new URLSearchParams(l.split(' ')[2]).get('stage')), ['booted']);
});

test('a diskless.server that could match file names is never expanded against the node\'s files', async (t) => {
  const dir = await tempDir(t);
  const r = await busyboxSh(dir, `. "$DL_LIB/common.sh"; touch http:x1 http:x2
    DL_SERVER='http:*' DL_PEERS="http://10.0.0.2"; server_order`);
  assert.equal(r.out, 'http://10.0.0.2\n', r.err);
});
