// Interop with TFTP clients nobody here wrote: tftp-hpa's `tftp`, `atftp` and `curl`.
// Debian packages: tftp-hpa, atftp, curl. A test whose client is missing is skipped, saying so.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../../log/logger.js';
import { waitUntil } from '../../testing/wait-until.js';
import { encodeTftpPacket } from './encode.js';
import { bufferReader } from '../../files/sized-reader.js';
import { TftpServer } from './server.js';
import { run as runCommand } from '../../process/run.js';

const BIG_BYTES = 50 * 1024 * 1024;

function missing(binary: string): string | false {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;
  return found ? false : `${binary} is not installed`;
}
const noTftpHpa = missing('tftp');
const noAtftp = missing('atftp');
const noCurl = missing('curl');

let dir = '';
let bigSha = '';
let server: TftpServer;
let port = 0;
/** The shared server's log: its "transfer done" lines say what each transfer negotiated. */
const serverLog = memoryLogger();
const pxeConfig = Buffer.from('DEFAULT linux\nLABEL linux\n  KERNEL vmlinuz\n  APPEND initrd=initrd.img ip=dhcp\n');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tftp-interop-'));
  const hash = createHash('sha256');
  const file = await open(join(dir, 'big.bin'), 'w');
  try {
    for (let written = 0; written < BIG_BYTES; written += 1 << 20) {
      const chunk = randomBytes(1 << 20);
      hash.update(chunk);
      await file.write(chunk);
    }
  } finally {
    await file.close();
  }
  bigSha = hash.digest('hex');
  await writeFile(join(dir, 'small.txt'), 'hello from diskless\n');
  server = new TftpServer({
    address: '127.0.0.1',
    port: 0,
    root: dir,
    logger: serverLog,
    files: async (path) => (path === 'pxelinux.cfg/01-52-54-00-12-34-56' ? bufferReader(pxeConfig) : undefined),
  });
  await server.start();
  port = server.address().port;
});

after(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runCommand([cmd, ...args], { timeoutMs, cwd: dir, check: false });
  return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Fetches big.bin with a client and checks the bytes, and that the transfer ran with the block
 * and window sizes it was meant to negotiate: a client that silently dropped an option (or a
 * server that ignored it) would still deliver the right bytes, in lockstep at 512.
 */
async function fetchBig(t: TestContext, negotiated: { blksize: number; windowsize: number }, label: string, out: string, cmd: string, args: string[]): Promise<void> {
  const logged = serverLog.lines.length;
  const started = performance.now();
  const r = await run(cmd, args);
  const ms = Math.round(performance.now() - started);
  t.diagnostic(`${label}: 50 MiB in ${ms} ms`);
  assert.equal(r.code, 0, `${cmd} failed: ${r.stderr}`);
  assert.equal(await sha256(join(dir, out)), bigSha);
  await rm(join(dir, out));
  // The server logs the end once the client's last ACK is in, which may be after the client exits.
  const ends = () => serverLog.lines.slice(logged).filter((l) => l.file === 'big.bin' && (l.msg === 'transfer done' || l.msg === 'transfer failed'));
  await waitUntil(`the server's end-of-transfer line for ${label}`, () => ends().length > 0);
  assert.deepEqual(
    ends().map((l) => ({ msg: l.msg, blksize: l.blksize, windowsize: l.windowsize, bytes: l.bytes })),
    [{ msg: 'transfer done', ...negotiated, bytes: BIG_BYTES }],
  );
}

// tftp-hpa 5.2's client sends no options at all (no blksize, no tsize: its man page lists none),
// so this is plain RFC 1350 lockstep at 512 bytes: 102400 blocks, which also crosses the
// 65535 → 0 block-number rollover.
test('tftp-hpa fetches 50 MiB in lockstep with block-number rollover', { skip: noTftpHpa, timeout: 120_000 }, async (t) => {
  await fetchBig(t, { blksize: 512, windowsize: 1 }, 'tftp-hpa, blksize 512, windowsize 1', 'out-hpa.bin', 'tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', 'big.bin', 'out-hpa.bin']);
});

test('atftp fetches 50 MiB with blksize 1468 and windowsize 16 (RFC 7440)', { skip: noAtftp, timeout: 120_000 }, async (t) => {
  await fetchBig(t, { blksize: 1468, windowsize: 16 }, 'atftp, blksize 1468, windowsize 16', 'out-atftp.bin', 'atftp', [
    '--option', 'blksize 1468', '--option', 'windowsize 16', '--option', 'tsize enable',
    '-g', '-r', 'big.bin', '-l', 'out-atftp.bin', '127.0.0.1', String(port),
  ]);
});

test('curl fetches 50 MiB with blksize 1468 and tsize', { skip: noCurl, timeout: 120_000 }, async (t) => {
  await fetchBig(t, { blksize: 1468, windowsize: 1 }, 'curl, blksize 1468, windowsize 1', 'out-curl.bin', 'curl', [
    '--silent', '--show-error', '--tftp-blksize', '1468', '-o', 'out-curl.bin', `tftp://127.0.0.1:${port}/big.bin`,
  ]);
});

test('curl gets a generated pxelinux config by its root-relative path', { skip: noCurl }, async () => {
  const r = await run('curl', ['--silent', '--show-error', `tftp://127.0.0.1:${port}/pxelinux.cfg/01-52-54-00-12-34-56`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, pxeConfig.toString());
});

test('atftp gets a small file by a root-relative path with a leading slash', { skip: noAtftp }, async () => {
  const r = await run('atftp', ['-g', '-r', '/small.txt', '-l', 'out-small.txt', '127.0.0.1', String(port)]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await sha256(join(dir, 'out-small.txt')), createHash('sha256').update('hello from diskless\n').digest('hex'));
});

test('clients report the server\'s refusals', { skip: noAtftp || noCurl }, async () => {
  const notFound = await run('atftp', ['-g', '-r', 'nope.bin', '-l', 'out-nope', '127.0.0.1', String(port)]);
  assert.notEqual(notFound.code, 0);
  assert.match(notFound.stderr + notFound.stdout, /File not found/);
  const escape = await run('curl', ['--silent', '--show-error', '-o', '/dev/null', `tftp://127.0.0.1:${port}/../etc/passwd`]);
  assert.notEqual(escape.code, 0);
  const upload = await run('atftp', ['-p', '-l', 'small.txt', '-r', 'uploaded.txt', '127.0.0.1', String(port)]);
  assert.notEqual(upload.code, 0);
  assert.match(upload.stderr + upload.stdout, /Access violation/);
});

test('tftp-hpa and atftp are served while another host floods RRQs it never acknowledges', { skip: noTftpHpa || noAtftp, timeout: 60_000 }, async (t) => {
  // Its own server with the default caps: 256 transfers, 4 per client address.
  const own = new TftpServer({ address: '127.0.0.1', port: 0, root: dir });
  await own.start();
  const ownPort = own.address().port;
  const flooder = createSocket('udp4');
  await new Promise<void>((resolve) => flooder.bind(0, '127.0.0.2', () => resolve()));
  let busy = 0;
  flooder.on('message', (m) => { if (m.readUInt16BE(0) === 5) busy++; });
  const request = encodeTftpPacket({ type: 'rrq', filename: 'small.txt', mode: 'octet', options: [] });
  let sent = 0;
  // 64 RRQs every 10 ms for as long as the clients run: without a per-address cap that is all
  // 256 slots within 40 ms, each held for its whole retransmission schedule.
  const timer = setInterval(() => {
    for (let i = 0; i < 64; i++) flooder.send(request, ownPort, '127.0.0.1');
    sent += 64;
  }, 10);
  try {
    const deadline = Date.now() + 10_000;
    while (busy === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(busy > 0, 'the flood reached the cap');
    const hpa = await run('tftp', ['-m', 'binary', '127.0.0.1', String(ownPort), '-c', 'get', 'small.txt', 'out-flood-hpa.txt'], 30_000);
    assert.equal(hpa.code, 0, hpa.stderr + hpa.stdout);
    const atftp = await run('atftp', ['-g', '-r', 'small.txt', '-l', 'out-flood-atftp.txt', '127.0.0.1', String(ownPort)], 30_000);
    assert.equal(atftp.code, 0, atftp.stderr + atftp.stdout);
    const want = createHash('sha256').update('hello from diskless\n').digest('hex');
    assert.equal(await sha256(join(dir, 'out-flood-hpa.txt')), want);
    assert.equal(await sha256(join(dir, 'out-flood-atftp.txt')), want);
    t.diagnostic(`flood: ${sent} RRQs sent from 127.0.0.2, ${busy} ERRORs back, ${own.activeTransfers} transfers open at the end`);
  } finally {
    clearInterval(timer);
    flooder.close();
    await own.stop();
  }
});
