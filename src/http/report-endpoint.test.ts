import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { HttpServer } from './server.js';
import { reportEndpoint, type NodeReport } from './report-endpoint.js';

function post(port: number, body: string, method = 'POST') {
  return new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/report', method, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('node reports: valid ones reach the callback, bad ones are refused', async (t) => {
  const got: NodeReport[] = [];
  const server = new HttpServer({ address: '127.0.0.1', port: 0, resolve: async () => undefined, handlers: [reportEndpoint((r) => got.push(r))] });
  await server.start();
  t.after(() => server.stop());
  const p = server.port;
  assert.equal(await post(p, 'mac=52%3A54%3A00%3A00%3A00%3A01&stage=root&status=retry&detail=NBD%20refused&uptime_ms=5123&X-Y=1'), 200);
  assert.deepEqual(got[0], { mac: '52:54:00:00:00:01', stage: 'root', status: 'retry', detail: 'NBD refused', peer: got[0]?.peer, fields: { uptime_ms: '5123' } });
  assert.equal(await post(p, 'mac=nope&stage=root&status=ok'), 400);
  assert.equal(await post(p, 'mac=52:54:00:00:00:01&stage=$(reboot)&status=ok'), 400);
  assert.equal(await post(p, `mac=52:54:00:00:00:01&stage=root&status=ok&detail=${'x'.repeat(5000)}`), 413);
  assert.equal(await post(p, '', 'GET'), 405);
  assert.equal(got.length, 1);
});
