import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockCache } from '../files/block-cache.js';
import { diskFile, memoryFile } from '../files/boot-file.js';
import { waitUntil } from '../testing/wait-until.js';
import { memoryLogger } from '../log/logger.js';
import { HttpServer, requestPath, type HttpEvent } from './server.js';

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, method }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('serves files with ranges, validators and HEAD; logs one line per request', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-http-'));
  const big = randomBytes(3 * 1024 * 1024 + 17);
  await writeFile(join(dir, 'big'), big);
  const log = memoryLogger();
  const events: HttpEvent[] = [];
  const server = new HttpServer({
    address: '127.0.0.1',
    port: 0,
    logger: log,
    onEvent: (e) => events.push(e),
    resolve: async (p) => (p === '/big' ? diskFile(join(dir, 'big')) : p === '/script' ? memoryFile('#!ipxe\n') : p === '/boom' ? Promise.reject(new Error('disk on fire')) : undefined),
  });
  await server.start();
  t.after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const port = server.port;

  const whole = await get(port, '/big');
  assert.equal(whole.status, 200);
  assert.equal(whole.headers['content-length'], String(big.length));
  assert.equal(createHash('sha256').update(whole.body).digest('hex'), createHash('sha256').update(big).digest('hex'));
  const etag = whole.headers.etag as string;

  const part = await get(port, '/big', { range: 'bytes=1000-1999' });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 1000-1999/${big.length}`);
  assert.deepEqual(part.body, big.subarray(1000, 2000));

  assert.equal((await get(port, '/big', { 'if-none-match': etag })).status, 304);
  assert.equal((await get(port, '/big', { range: `bytes=${big.length}-` })).status, 416);
  const head = await get(port, '/script', {}, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '7');
  assert.equal(head.body.length, 0);
  assert.equal((await get(port, '/nope')).status, 404);
  assert.equal((await get(port, '/big', {}, 'POST')).status, 405);
  assert.equal((await get(port, '/%E0%A4%A')).status, 400);
  assert.equal((await get(port, '/boom')).status, 500);
  assert.equal((await get(port, '/script')).body.toString(), '#!ipxe\n');

  const first = log.lines[0];
  assert.equal(first?.service, 'http');
  assert.equal(first?.path, '/big');
  assert.equal(first?.bytes, big.length);
  assert.equal(typeof first?.durationMs, 'number');
  assert.equal(events.length, 10);
  assert.equal(events.find((e) => e.path === '/boom')?.type, 'error');
});

test('request targets: origin-form with a doubled slash (shim under UEFI HTTP boot), absolute-form, queries; anything else is refused', () => {
  assert.equal(requestPath('//grubx64.efi'), '/grubx64.efi');
  assert.equal(requestPath('/efi//boot///grubaa64.efi?x=//y'), '/efi/boot/grubaa64.efi');
  assert.equal(requestPath('http://10.77.0.1//grubx64.efi'), '/grubx64.efi');
  assert.equal(requestPath('HTTP://10.77.0.1/boot/a%20b.ipxe#frag'), '/boot/a b.ipxe');
  assert.equal(requestPath('/'), '/');
  assert.throws(() => requestPath('*'), URIError);
  assert.throws(() => requestPath('grubx64.efi'), URIError);
  assert.throws(() => requestPath('http://[bad/x'), URIError);
  assert.throws(() => requestPath('/%E0%A4%A'), URIError);
});

test('GET //grubx64.efi, as shim asks for its next loader, serves /grubx64.efi and logs what was asked', async (t) => {
  const log = memoryLogger();
  const asked: string[] = [];
  const server = new HttpServer({
    address: '127.0.0.1',
    port: 0,
    logger: log,
    resolve: async (p) => {
      asked.push(p);
      return p === '/grubx64.efi' ? memoryFile('GRUB') : undefined;
    },
  });
  await server.start();
  t.after(() => server.stop());
  const r = await get(server.port, '//grubx64.efi', { 'user-agent': 'UefiHttpBoot/1.0' });
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'GRUB');
  assert.deepEqual(asked, ['/grubx64.efi']);
  const line = log.lines.find((l) => l.msg === 'request');
  assert.equal(line?.path, '/grubx64.efi');
  assert.equal(line?.target, '//grubx64.efi');
  assert.equal(line?.status, 200);
  // A plain request logs no target; the query is never logged.
  await get(server.port, '/grubx64.efi?secret=1');
  const plain = log.lines.filter((l) => l.msg === 'request').at(-1);
  assert.equal(plain?.target, undefined);
  assert.equal(JSON.stringify(log.lines).includes('secret'), false);
});

test('a file\'s size goes out as "Content-Length", spelt so: GRUB 2.12\'s UEFI HTTP driver matches the name case-sensitively', async (t) => {
  const server = new HttpServer({ address: '127.0.0.1', port: 0, resolve: async (p) => (p === '/grub/grub.cfg' ? memoryFile('echo hello\n') : undefined) });
  await server.start();
  t.after(() => server.stop());
  for (const method of ['HEAD', 'GET']) {
    // rawHeaders keeps the names as they came on the wire (res.headers lowercases them).
    const raw = await new Promise<string[]>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/grub/grub.cfg', method, headers: { 'user-agent': 'UefiHttpBoot/1.0' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.rawHeaders));
      });
      req.on('error', reject);
      req.end();
    });
    const at = raw.indexOf('Content-Length');
    assert.ok(at >= 0 && at % 2 === 0, `${method}: no "Content-Length" header among ${raw.filter((_, i) => i % 2 === 0).join(', ')}`);
    assert.equal(raw[at + 1], '11');
  }
});

test('bodies through the block cache: exact bytes and ranges from memory, a replaced file fresh, a client that leaves mid-body an error event', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-http-cache-'));
  const first = randomBytes(3 * 1024 * 1024 + 17);
  await writeFile(join(dir, 'big'), first);
  const cache = new BlockCache({ maxBytes: 64 * 1024 * 1024 });
  const events: HttpEvent[] = [];
  const server = new HttpServer({
    address: '127.0.0.1',
    port: 0,
    cache,
    onEvent: (e) => events.push(e),
    resolve: async (p) => (p === '/big' || p === '/huge' ? diskFile(join(dir, p.slice(1))) : p === '/script' ? memoryFile('#!ipxe\n') : undefined),
  });
  await server.start();
  t.after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const port = server.port;
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  assert.equal(sha((await get(port, '/big')).body), sha(first));
  const filled = cache.stats();
  assert.ok(filled.misses > 0);
  assert.equal(filled.bytes, first.length);
  const again = await get(port, '/big');
  assert.equal(sha(again.body), sha(first));
  assert.equal(cache.stats().misses, filled.misses, 'the second download read nothing from the file');
  // A range across block edges, and one inside the short last block.
  const part = await get(port, '/big', { range: 'bytes=100000-400000' });
  assert.equal(part.status, 206);
  assert.deepEqual(part.body, first.subarray(100000, 400001));
  assert.deepEqual((await get(port, '/big', { range: `bytes=-10` })).body, first.subarray(first.length - 10));
  assert.equal((await get(port, '/script')).body.toString(), '#!ipxe\n');
  // A client has its last byte before the server's turn that ends the response and emits done.
  const bigDone = () => events.filter((e) => e.path === '/big' && e.type === 'done');
  await waitUntil('a done event for each of the four downloads', () => bigDone().length >= 4, 10_000);
  assert.deepEqual(bigDone().map((e) => e.bytes), [first.length, first.length, 300001, 10]);

  // Renamed over: a new file, served from its own bytes.
  const second = randomBytes(first.length);
  await writeFile(join(dir, 'new'), second);
  await rename(join(dir, 'new'), join(dir, 'big'));
  assert.equal(sha((await get(port, '/big')).body), sha(second));
  await waitUntil('the fifth download\'s done event', () => bigDone().length >= 5, 10_000);

  // A client that reads a little and leaves: the request ends as an error, with fewer bytes.
  // The file is bigger than loopback's socket buffers can hold, so the server is still sending.
  const huge = 48 * 1024 * 1024;
  await writeFile(join(dir, 'huge'), randomBytes(huge));
  const before = events.length;
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/huge' }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => {});
    req.on('close', resolve);
    req.once('error', reject);
    req.end();
  });
  await waitUntil('the aborted request\'s event', () => events.length > before);
  const cut = events.at(-1)!;
  assert.equal(cut.path, '/huge');
  assert.equal(cut.type, 'error');
  assert.ok(cut.bytes < huge, `${cut.bytes} bytes counted of ${huge}`);
});
