// The HTTP server against clients that hold connections: half-sent bodies, too many sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { memoryFile } from '../files/boot-file.js';
import { HttpServer } from './server.js';
import { readBody } from './read-body.js';
import { waitUntil } from '../testing/wait-until.js';
import { MiB, settledHeapUsed } from '../testing/heap.js';

const SCRIPT = '#!ipxe';
const IMAGE = randomBytes(32 * 1024 * 1024);

async function serve(t: { after(fn: () => unknown): void }, opts: Partial<ConstructorParameters<typeof HttpServer>[0]>) {
  const server = new HttpServer({
    address: '127.0.0.1',
    port: 0,
    resolve: async (p) => (p === '/boot.ipxe' ? memoryFile(SCRIPT) : p === '/image' ? memoryFile(IMAGE, 'application/octet-stream') : undefined),
    // An endpoint that reads its body, as the report and API endpoints do.
    handlers: [async (req, res, path) => {
      if (path !== '/upload') return false;
      const body = await readBody(req, 1 << 20);
      res.writeHead(200).end(`got ${body?.length}\n`);
      return true;
    }],
    ...opts,
  });
  await server.start();
  t.after(() => server.stop());
  return server;
}

interface Held {
  socket: Socket;
  received: string;
  closed: boolean;
}

/** A connection from `localAddress` that sends `text` and then nothing more. */
function hold(port: number, text: string, localAddress = '127.0.0.1'): Held {
  const h: Held = { socket: connect({ port, host: '127.0.0.1', localAddress }), received: '', closed: false };
  h.socket.setEncoding('utf8');
  h.socket.on('data', (c: string) => (h.received += c));
  h.socket.on('error', () => {});
  h.socket.on('close', () => (h.closed = true));
  if (text) h.socket.write(text);
  return h;
}

function get(port: number, path: string, localAddress = '127.0.0.1', method = 'GET', body?: string) {
  return new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, localAddress, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const HALF_SENT = 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nmac=52:54';

test('500 half-sent bodies are closed with 408 at the request deadline while other clients are served; a slow download outlives it', { timeout: 120_000 }, async (t) => {
  const deadlineMs = 1000;
  const server = await serve(t, { requestTimeoutMs: deadlineMs, maxConnectionsPerPeer: 1000 });
  const port = server.port;
  const before = await settledHeapUsed();
  const held = Array.from({ length: 500 }, () => hold(port, HALF_SENT));
  t.after(() => held.forEach((h) => h.socket.destroy()));
  // Every one reached the server: open now, or already closed by it at the deadline (on a loaded
  // machine the first can pass their deadline before the last connect; each must still get 408).
  await waitUntil('500 connections held', () => server.connections + held.filter((h) => h.closed).length >= 500);

  // Meanwhile: a boot script, a whole upload, and a download the client reads slower than the
  // request deadline (the kernel holds about 4 MiB of it; the server sends the rest as it goes).
  const started = Date.now();
  const download = new Promise<{ status: number; sha: string; length: number }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/image', agent: false }, (res) => {
      const hash = createHash('sha256');
      let length = 0;
      let pausedAt = 0;
      res.on('data', (c: Buffer) => {
        hash.update(c);
        length += c.length;
        if (length - pausedAt > 8 * 1024 * 1024) {
          pausedAt = length;
          res.pause();
          setTimeout(() => res.resume(), deadlineMs * 1.2);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sha: hash.digest('hex'), length }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  const script = await get(port, '/boot.ipxe');
  assert.equal(script.status, 200);
  assert.equal(script.body.toString(), SCRIPT);
  assert.equal((await get(port, '/upload', '127.0.0.1', 'POST', 'mac=52:54:00:00:00:01')).body.toString(), 'got 21\n');

  await waitUntil('every half-sent body closed', () => held.every((h) => h.closed));
  assert.equal(held.filter((h) => h.received.startsWith('HTTP/1.1 408 Request Timeout')).length, 500);
  const image = await download;
  const tookMs = Date.now() - started;
  t.diagnostic(`slow download of ${IMAGE.length} bytes took ${tookMs} ms with a ${deadlineMs} ms request deadline`);
  assert.equal(image.status, 200);
  assert.equal(image.length, IMAGE.length);
  assert.equal(image.sha, createHash('sha256').update(IMAGE).digest('hex'));
  assert.ok(tookMs > 3 * deadlineMs, 'the client paused three times for longer than the deadline');
  await waitUntil('no connection left', () => server.connections === 0);
  const grown = (await settledHeapUsed()) - before;
  t.diagnostic(`heap after 500 held connections were closed: ${(grown / MiB).toFixed(1)} MiB over the start`);
  assert.ok(grown < 8 * MiB, `heap grew ${(grown / MiB).toFixed(1)} MiB`);
});

test('connections past the per-peer cap or the total cap are closed on accept; others are still served', async (t) => {
  const server = await serve(t, { maxConnections: 30, maxConnectionsPerPeer: 10 });
  const port = server.port;
  const open = (n: number, from: string) => Array.from({ length: n }, () => hold(port, '', from));
  const first = open(10, '127.0.0.1');
  t.after(() => first.forEach((h) => h.socket.destroy()));
  await waitUntil('10 connections from 127.0.0.1', () => server.connections === 10);

  const eleventh = hold(port, 'GET /boot.ipxe HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitUntil('the 11th from 127.0.0.1 closed', () => eleventh.closed);
  assert.equal(eleventh.received, '', 'closed without an answer');
  assert.equal(server.refusedConnections, 1);
  assert.equal((await get(port, '/boot.ipxe', '127.0.0.2')).status, 200, 'another address is served');

  const more = [...open(10, '127.0.0.2'), ...open(10, '127.0.0.3')];
  t.after(() => more.forEach((h) => h.socket.destroy()));
  await waitUntil('30 connections', () => server.connections === 30);
  const over = hold(port, 'GET /boot.ipxe HTTP/1.1\r\nHost: x\r\n\r\n', '127.0.0.4');
  await waitUntil('the 31st closed', () => over.closed);
  assert.equal(server.refusedConnections, 2);

  // A flood of connections from one address: each is refused at once, nothing accumulates.
  const heapBefore = await settledHeapUsed();
  const flood: Held[] = [];
  for (let i = 0; i < 2000; i++) flood.push(hold(port, 'GET /boot.ipxe HTTP/1.1\r\nHost: x\r\n\r\n', '127.0.0.5'));
  await waitUntil('the flood refused', () => flood.every((h) => h.closed));
  assert.equal(server.refusedConnections, 2002);
  assert.equal(flood.filter((h) => h.received !== '').length, 0);
  flood.length = 0;
  const grown = (await settledHeapUsed()) - heapBefore;
  t.diagnostic(`2000 refused connections: heap ${(grown / MiB).toFixed(1)} MiB over the start`);
  assert.ok(grown < 8 * MiB, `heap grew ${(grown / MiB).toFixed(1)} MiB`);
  assert.equal(server.connections, 30);

  // A slot given back is a slot to use.
  first[0]!.socket.destroy();
  await waitUntil('one closed', () => server.connections === 29);
  assert.equal((await get(port, '/boot.ipxe', '127.0.0.4')).status, 200);
});
