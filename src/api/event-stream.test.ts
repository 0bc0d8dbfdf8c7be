import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { call, startApi } from './testdata/api-fixture.js';
import { EventStreamSlots } from './event-stream.js';
import { MiB, settledMemoryUsed } from '../testing/heap.js';
import { waitUntil } from '../testing/wait-until.js';

const N1 = '52:54:00:00:00:01';
/** ~450 bytes an event on the wire, like a stage report with a long detail. */
const PAD = 'x'.repeat(300);

type Obs = Awaited<ReturnType<typeof startApi>>['obs'];
const record = (obs: Obs, i: number) => obs.record({ time: i, mac: N1, kind: 'stage', name: 'root', detail: PAD, fields: { status: 'ok' } });

/** A client that sends its request and then never reads a byte. */
function neverReads(port: number, path: string, t: { after(fn: () => void): void }): Socket {
  const s = connect(port, '127.0.0.1');
  s.pause();
  s.on('error', () => {});
  s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
  t.after(() => s.destroy());
  return s;
}

/** A client that reads the stream and keeps only the event ids, in arrival order. */
function reader(port: number, path: string, t: { after(fn: () => void): void }) {
  const ids: number[] = [];
  let rest = '';
  const req = request({ host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream' } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const text = rest + chunk;
      const end = text.lastIndexOf('\n');
      for (const m of text.slice(0, end + 1).matchAll(/^id: (\d+)$/gm)) ids.push(Number(m[1]));
      rest = text.slice(end + 1);
    });
  });
  req.on('error', () => {});
  req.end();
  t.after(() => req.destroy());
  return ids;
}

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

test('20 clients that never read hold bounded memory; a reading client gets every event in order; past the cap: 503', async (t) => {
  const slots = new EventStreamSlots(21);
  const { port, obs } = await startApi(t, { eventStreams: slots });
  const retained = 25_000;
  for (let i = 0; i < retained; i++) record(obs, i);
  const before = await settledMemoryUsed();

  for (let i = 0; i < 20; i++) neverReads(port, '/api/v1/events/stream?since=0', t);
  await waitUntil('20 open streams', () => slots.open === 20);
  const grown = (await settledMemoryUsed()) - before;
  t.diagnostic(`20 streams that never read, replaying ${retained} events (~${Math.round((retained * 450) / MiB)} MiB each): memory +${(grown / MiB).toFixed(1)} MiB`);
  // Without backpressure each of them queues the whole replay: about 10 MiB a client.
  assert.ok(grown < 40 * MiB, `memory grew ${(grown / MiB).toFixed(1)} MiB`);

  const ids = reader(port, '/api/v1/events/stream?since=0', t);
  await waitUntil('the reader’s stream', () => slots.open === 21);
  const refused = await call(port, 'GET', '/api/v1/events/stream');
  assert.equal(refused.status, 503);
  assert.equal(refused.json.error, 'Too many event streams open (limit 21)');
  assert.match(refused.json.hint, /api\.max_event_streams/);
  assert.equal(slots.open, 21, 'a refused stream takes no slot');

  for (let i = 0; i < 100; i++) record(obs, retained + i);
  await waitUntil('every event at the reader', () => ids.length >= retained + 100);
  assert.deepEqual(ids, oneTo(retained + 100), 'replay then live, in order, none twice');
});

test('a live client that stops reading is dropped once its unsent data passes the bound; a reading one is not', async (t) => {
  const slots = new EventStreamSlots(8);
  const { port, obs } = await startApi(t, { eventStreams: slots, eventStreamLimits: { maxBufferedBytes: 256 * 1024 } });
  neverReads(port, '/api/v1/events/stream', t);
  const ids = reader(port, '/api/v1/events/stream', t);
  await waitUntil('both streams', () => slots.open === 2);
  const before = await settledMemoryUsed();
  const total = 20_000;
  // In bursts the reader (in this same process) gets to read between.
  for (let sent = 0; sent < total; ) {
    for (let i = 0; i < 200; i++) record(obs, sent++);
    await waitUntil('the reader to catch up', () => ids.length === sent);
  }
  await waitUntil('the stalled client dropped', () => slots.open === 1);
  const grown = (await settledMemoryUsed()) - before;
  t.diagnostic(`${total} live events (~${Math.round((total * 450) / MiB)} MiB), one client not reading: memory +${(grown / MiB).toFixed(1)} MiB`);
  assert.ok(grown < 16 * MiB, `memory grew ${(grown / MiB).toFixed(1)} MiB`);
  assert.deepEqual(ids, oneTo(total));
});

test('a replay that nobody reads for stallMs is dropped and its slot given back', async (t) => {
  const slots = new EventStreamSlots(8);
  const { port, obs } = await startApi(t, { eventStreams: slots, eventStreamLimits: { stallMs: 300 } });
  // More than the kernel takes for a client that does not read (about 4 MiB on loopback).
  for (let i = 0; i < 20_000; i++) record(obs, i);
  const s = neverReads(port, '/api/v1/events/stream?since=0', t);
  await waitUntil('the stream', () => slots.open === 1 || s.destroyed);
  await waitUntil('the stalled stream dropped', () => slots.open === 0);
});
