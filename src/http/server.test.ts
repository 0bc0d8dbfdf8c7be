import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diskFile, memoryFile } from '../files/boot-file.js';
import { memoryLogger } from '../log/logger.js';
import { HttpServer, type HttpEvent } from './server.js';

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
