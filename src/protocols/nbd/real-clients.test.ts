// Interoperability with clients nobody here wrote: libnbd's nbdinfo and nbdcopy (Debian
// libnbd-bin), QEMU's qemu-img / qemu-io (Debian qemu-utils) and the reference nbd-client
// (Debian nbd-client; list mode only, attaching needs the kernel's nbd module). Each test is
// skipped, saying which package is missing, when its tool is not installed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { staticExports } from './exports.js';
import { fileExport, type FileExport } from './file-export.js';
import { NbdServer } from './server.js';
import { run as runCommand } from '../../process/run.js';

const MiB = 1024 * 1024;
let dir = '';
let server: NbdServer;
let base = '';
const files: FileExport[] = [];
let big: Buffer;
let odd: Buffer;

function tool(name: string, pkg: string): { skip: string | false } {
  const found = ['/usr/bin', '/usr/local/bin', '/bin'].some((d) => existsSync(join(d, name)));
  return { skip: found ? false : `${name} not installed (Debian package ${pkg})` };
}
const nbdinfo = tool('nbdinfo', 'libnbd-bin');
const nbdcopy = tool('nbdcopy', 'libnbd-bin');
const qemuImg = tool('qemu-img', 'qemu-utils');
const qemuIo = tool('qemu-io', 'qemu-utils');
const nbdClient = { skip: ['/usr/sbin/nbd-client', '/sbin/nbd-client'].some((p) => existsSync(p)) ? false : 'nbd-client not installed (Debian package nbd-client)' };

/** Runs a client while this process keeps serving (never a synchronous spawn here). */
async function run(cmd: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runCommand([cmd, ...args], { timeoutMs: 120_000, check: false });
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nbd-real-'));
  big = randomBytes(64 * MiB);
  odd = randomBytes(1_000_001);
  await writeFile(join(dir, 'big.img'), big);
  await writeFile(join(dir, 'odd.img'), odd);
  const root = await fileExport(join(dir, 'big.img'), 'Debian 12 root');
  const tail = await fileExport(join(dir, 'odd.img'));
  files.push(root, tail);
  server = new NbdServer({ address: '127.0.0.1', port: 0, exports: staticExports({ root, odd: tail }) });
  await server.start();
  base = `nbd://127.0.0.1:${server.address().port}`;
});

after(async () => {
  await server.stop();
  for (const f of files) await f.close();
  await rm(dir, { recursive: true, force: true });
});

test('nbdinfo shows the size, read-only, multi-conn, block sizes and description', nbdinfo, async () => {
  const r = await run('nbdinfo', ['--json', `${base}/root`]);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout) as { exports: Array<Record<string, unknown>> };
  const e = info.exports[0]!;
  assert.equal(e['export-size'], 64 * MiB);
  assert.equal(e['is_read_only'], true);
  assert.equal(e['can_multi_conn'], true);
  assert.equal(e['can_flush'], false);
  assert.equal(e['can_trim'], false);
  assert.equal(e['block_size_minimum'], 1);
  assert.equal(e['block_size_preferred'], 4096);
  assert.equal(e['block_size_maximum'], 32 * MiB);
  assert.equal(e['description'], 'Debian 12 root');
});

test('nbdinfo --list lists every export', nbdinfo, async () => {
  const r = await run('nbdinfo', ['--json', '--list', base]);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout) as { exports: Array<Record<string, unknown>> };
  assert.deepEqual(info.exports.map((e) => e['export-name']).sort(), ['odd', 'root']);
  assert.equal(info.exports.find((e) => e['export-name'] === 'odd')?.['export-size'], 1_000_001);
});

test('nbdinfo on an unknown export fails cleanly, and the server keeps serving', nbdinfo, async () => {
  const r = await run('nbdinfo', [`${base}/nope`]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /opt_go|export/);
  assert.equal((await run('nbdinfo', ['--size', `${base}/odd`])).stdout.trim(), '1000001');
});

test('nbdcopy of a 64 MiB export gives the same sha256 (and reports throughput)', nbdcopy, async (t) => {
  const out = join(dir, 'copy.img');
  const started = performance.now();
  const r = await run('nbdcopy', [`${base}/root`, out]);
  const seconds = (performance.now() - started) / 1000;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sha256(await readFile(out)), sha256(big));
  t.diagnostic(`nbdcopy to a file: ${(64 / seconds).toFixed(0)} MiB/s`);
  const nullStarted = performance.now();
  const n = await run('nbdcopy', [`${base}/root`, 'null:']);
  assert.equal(n.code, 0, n.stderr);
  t.diagnostic(`nbdcopy to null: ${(64 / ((performance.now() - nullStarted) / 1000)).toFixed(0)} MiB/s`);
  const single = performance.now();
  const s = await run('nbdcopy', ['--connections=1', '--requests=1', `${base}/root`, 'null:']);
  assert.equal(s.code, 0, s.stderr);
  t.diagnostic(`nbdcopy to null, 1 connection, 1 request in flight: ${(64 / ((performance.now() - single) / 1000)).toFixed(0)} MiB/s`);
});

test('nbdcopy of an export whose size is not a multiple of 512', nbdcopy, async () => {
  const out = join(dir, 'odd-copy.img');
  const r = await run('nbdcopy', [`${base}/odd`, out]);
  assert.equal(r.code, 0, r.stderr);
  const copy = await readFile(out);
  assert.equal(copy.length, 1_000_001);
  assert.ok(copy.equals(odd));
});

test('qemu-img info and compare read the export; QEMU cannot open it for writing', { skip: qemuImg.skip || qemuIo.skip }, async () => {
  const info = await run('qemu-img', ['info', '--output=json', `${base}/root`]);
  assert.equal(info.code, 0, info.stderr);
  assert.equal((JSON.parse(info.stdout) as { 'virtual-size': number })['virtual-size'], 64 * MiB);
  const compare = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', `${base}/root`, join(dir, 'big.img')]);
  assert.equal(compare.code, 0, compare.stdout + compare.stderr);
  const write = await run('qemu-io', ['-f', 'raw', '-c', 'write 0 512', `${base}/root`]);
  assert.notEqual(write.code, 0);
  assert.match(write.stderr, /Permission denied|read-only/i);
});

// Regression: QEMU 7.2 rounds an unaligned export up to 512 bytes, asks for the bytes up to
// the real end, then waits for a simple reply as long as the rounded read; with simple replies
// only, qemu-img hung forever on the last sector. Structured replies carry their own length.
test('qemu-img convert and qemu-io read the unaligned tail of an odd-sized export', { skip: qemuImg.skip || qemuIo.skip }, async () => {
  const out = join(dir, 'odd-qemu.img');
  const convert = await run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', `${base}/odd`, out]);
  assert.equal(convert.code, 0, convert.stderr);
  const copy = await readFile(out);
  assert.ok(copy.subarray(0, odd.length).equals(odd));
  assert.ok(copy.subarray(odd.length).every((b) => b === 0), 'QEMU pads its rounded-up size with zeroes');
  const tail = await run('qemu-io', ['-r', '-f', 'raw', '-c', `read -v ${odd.length - 11} 11`, `${base}/odd`]);
  assert.equal(tail.code, 0, tail.stderr);
  const hex = [...odd.subarray(odd.length - 11)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  assert.ok(tail.stdout.includes(hex), tail.stdout);
});

test('the reference nbd-client lists the exports (LIST, then ABORT)', nbdClient, async () => {
  const bin = existsSync('/usr/sbin/nbd-client') ? '/usr/sbin/nbd-client' : '/sbin/nbd-client';
  const r = await run(bin, ['-l', '127.0.0.1', String(server.address().port)]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').filter((l) => l && !l.startsWith('Negotiation')).sort(), ['odd', 'root']);
});
