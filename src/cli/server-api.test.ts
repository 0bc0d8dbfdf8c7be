import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { followEvents, getAll, ServerApiError } from './server-api.js';

test('followEvents reconnects a dropped stream with Last-Event-ID and loses nothing', async (t) => {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (seen.length === 1) {
      // Event 6 completes; event 7 is cut off mid-message by the drop.
      res.write('retry: 60000\n\nid: 6\ndata: six\n\nid: 7\ndata: se');
      setTimeout(() => res.socket?.destroy(), 20);
    } else {
      res.end('id: 7\ndata: seven\n\n');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/events/stream`;
  const ac = new AbortController();
  const got: string[] = [];
  const drops: string[] = [];
  await followEvents(url, (d) => {
    got.push(d);
    if (d === 'seven') ac.abort();
  }, { afterSeq: 5, signal: ac.signal, retryMs: 10, onDrop: (w) => drops.push(w) });
  assert.deepEqual(got, ['six', 'seven']);
  assert.deepEqual(seen.map((h) => h['last-event-id']), ['5', '6']);
  assert.equal(drops.length, 1);
});

test('followEvents: a server that is not running is an error at once, not a retry loop', async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  await assert.rejects(followEvents(`http://127.0.0.1:${port}/api/v1/events/stream`, () => {}, { retryMs: 10 }), /Cannot reach the Diskless server/);
});

test('followEvents: after a drop, a server that refuses is an error, not a retry loop', async (t) => {
  let connections = 0;
  const server = createServer((_req, res) => {
    connections++;
    if (connections === 1) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('id: 6\ndata: six\n\n');
      setTimeout(() => res.socket?.destroy(), 20);
    } else {
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":"Reads are not allowed from this address","hint":"x"}');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/events/stream`;
  const drops: string[] = [];
  await assert.rejects(
    followEvents(url, () => {}, { retryMs: 10, onDrop: (w) => drops.push(w) }),
    (e) => e instanceof ServerApiError && e.code === 'DL_SERVER_REFUSED' && /Reads are not allowed/.test(e.message),
  );
  assert.equal(connections, 2);
  assert.equal(drops.length, 1);
});

test('followEvents: a server that is not running is DL_SERVER_UNREACHABLE', async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  await assert.rejects(followEvents(`http://127.0.0.1:${port}/api/v1/events/stream`, () => {}), (e) => e instanceof ServerApiError && e.code === 'DL_SERVER_UNREACHABLE');
});

test('getAll follows the pages of a list to the end', async (t) => {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(req.url ?? '');
    const after = new URL(req.url ?? '/', 'http://x').searchParams.get('after');
    const body = after === null ? { nodes: [{ mac: 'a' }, { mac: 'b' }], next: 'b' } : { nodes: [{ mac: 'c' }], next: null };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  assert.deepEqual((await getAll<{ mac: string }>(base, '/nodes', 'nodes')).map((n) => n.mac), ['a', 'b', 'c']);
  assert.deepEqual(asked, ['/api/v1/nodes?limit=1000', '/api/v1/nodes?limit=1000&after=b']);
});
