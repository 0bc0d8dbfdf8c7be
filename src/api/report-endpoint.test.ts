import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { HttpServer } from '../http/server.js';
import { reportEndpoint, type RefusedReport } from './report-endpoint.js';
import type { NodeReport } from '../events/service-events.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const KNOWN = '52:54:00:00:00:01';

function post(port: number, body: string, method = 'POST', headers: Record<string, string> = FORM) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/report', method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function serve(t: { after(fn: () => unknown): void }) {
  const got: NodeReport[] = [];
  const refused: RefusedReport[] = [];
  const server = new HttpServer({
    address: '127.0.0.1',
    port: 0,
    resolve: async () => undefined,
    handlers: [reportEndpoint({ onReport: (r) => got.push(r), isKnownMac: (mac) => mac === KNOWN, onRefused: (r) => refused.push(r) })],
  });
  await server.start();
  t.after(() => server.stop());
  return { port: server.port, got, refused };
}

test('node reports: valid ones reach the callback, bad ones are refused', async (t) => {
  const { port: p, got } = await serve(t);
  assert.equal((await post(p, 'mac=52%3A54%3A00%3A00%3A00%3A01&stage=root&status=retry&detail=NBD%20refused&uptime_ms=5123&X-Y=1')).status, 200);
  assert.deepEqual(got[0], { mac: KNOWN, stage: 'root', status: 'retry', detail: 'NBD refused', peer: got[0]?.peer, fields: { uptime_ms: '5123' } });
  assert.equal((await post(p, 'mac=nope&stage=root&status=ok')).status, 400);
  assert.equal((await post(p, 'mac=52:54:00:00:00:01&stage=$(reboot)&status=ok')).status, 400);
  assert.equal((await post(p, `mac=52:54:00:00:00:01&stage=root&status=ok&detail=${'x'.repeat(5000)}`)).status, 413);
  assert.equal((await post(p, '', 'GET')).status, 405);
  assert.equal(got.length, 1);
});

test('a report for a MAC the server does not know is refused with 403 and told to onRefused', async (t) => {
  const { port, got, refused } = await serve(t);
  const r = await post(port, 'mac=02:00:00:00:00:99&stage=root&status=ok');
  assert.equal(r.status, 403);
  assert.match(r.text, /^Report refused: 02:00:00:00:00:99 is not a machine this server knows/);
  assert.deepEqual(got, []);
  assert.deepEqual(refused, [{ reason: 'unknown-mac', peer: '127.0.0.1', mac: '02:00:00:00:00:99' }]);
});

test('cross-site posts are refused: browser headers (Origin, Referer, Sec-Fetch-*) or a body that is not a form', async (t) => {
  const { port, got, refused } = await serve(t);
  const body = `mac=${KNOWN}&stage=booted&status=failed&detail=forged`;
  // What a page's <form method=post action=http://server/api/v1/report> makes a browser send.
  const fromForm = await post(port, body, 'POST', { ...FORM, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' });
  assert.equal(fromForm.status, 403);
  assert.match(fromForm.text, /sent by a web browser/);
  // Over plain HTTP some browsers send no Sec-Fetch-*; Origin alone (even "null") is enough.
  assert.equal((await post(port, body, 'POST', { ...FORM, origin: 'null' })).status, 403);
  assert.equal((await post(port, body, 'POST', { ...FORM, referer: 'http://evil.example/page' })).status, 403);
  assert.equal((await post(port, body, 'POST', { ...FORM, 'sec-fetch-site': 'same-origin' })).status, 403);
  // fetch(…, {mode: 'no-cors'}) may post text/plain; wget never does.
  const text = await post(port, body, 'POST', { 'content-type': 'text/plain' });
  assert.equal(text.status, 415);
  assert.match(text.text, /must be application\/x-www-form-urlencoded/);
  assert.equal((await post(port, body, 'POST', {})).status, 415);
  assert.deepEqual(got, []);
  assert.deepEqual(refused.map((r) => r.reason), ['from-browser', 'from-browser', 'from-browser', 'from-browser', 'not-a-form', 'not-a-form']);
  // Exactly what busybox wget --post-data sends still works.
  assert.equal((await post(port, body, 'POST', { 'user-agent': 'Wget', connection: 'close', 'content-type': 'application/x-www-form-urlencoded' })).status, 200);
  assert.equal(got.length, 1);
});
