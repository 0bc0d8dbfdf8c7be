import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { HttpServer } from '../http/server.js';
import { isBootTraffic } from '../events/convert.js';
import { CONTENT_SECURITY_POLICY, dashboardHandler } from './handler.js';

async function serve(t: { after(fn: () => unknown): void }): Promise<number> {
  const server = new HttpServer({ address: '127.0.0.1', port: 0, handlers: [dashboardHandler()], resolve: async () => undefined });
  await server.start();
  t.after(() => server.stop());
  return server.port;
}

function get(port: number, path: string, method = 'GET', headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the page, its modules and style: content types, CSP, no-cache with an ETag', async (t) => {
  const port = await serve(t);
  const page = await get(port, '/');
  assert.equal(page.status, 200);
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(page.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
  assert.match(CONTENT_SECURITY_POLICY, /script-src 'self';/);
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe/);
  assert.equal(page.headers['cache-control'], 'no-cache');
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  // No inline script or style anywhere in the page: the CSP would block it.
  assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
  for (const src of page.body.matchAll(/(?:src|href)="(\/ui\/[^"]+)"/g)) assert.equal((await get(port, src[1]!)).status, 200, src[1]);

  const app = await get(port, '/ui/app.js');
  assert.equal(app.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.doesNotMatch(app.body, /sourceMappingURL/);
  // Every module the page imports is served too.
  const seen = new Set<string>();
  const queue = ['app'];
  while (queue.length) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const mod = await get(port, `/ui/${name}.js`);
    assert.equal(mod.status, 200, name);
    for (const m of mod.body.matchAll(/^import .* from '\.\/([a-z0-9-]+)\.js';$/gm)) queue.push(m[1]!);
    assert.doesNotMatch(mod.body, /from '(?!\.\/)/, `${name} imports only its siblings`);
  }
  assert.ok(seen.has('timeline-svg') && seen.has('format'));
  assert.equal((await get(port, '/ui/style.css')).headers['content-type'], 'text/css; charset=utf-8');
  assert.equal((await get(port, '/ui/favicon.svg')).headers['content-type'], 'image/svg+xml');

  const etag = String(app.headers.etag);
  assert.match(etag, /^"[\w-]{27}"$/);
  const again = await get(port, '/ui/app.js', 'GET', { 'if-none-match': `W/${etag}, "other"` });
  assert.equal(again.status, 304);
  assert.equal(again.body, '');
  const head = await get(port, '/', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal(head.headers['content-length'], page.headers['content-length']);
});

test('only / and /ui/NAME.EXT are claimed; tests, maps and other folders are not served', async (t) => {
  const port = await serve(t);
  for (const path of ['/ui/timeline-svg.test.js', '/ui/app.js.map', '/ui/../handler.js', '/ui/%2e%2e/handler.js', '/ui/nope.js', '/ui/app.ts', '/ui/']) {
    assert.equal((await get(port, path)).status, 404, path);
  }
  assert.equal((await get(port, '/', 'POST')).status, 405);
  // Boot files and the API are someone else's: the file server's 404 answers, without our CSP.
  for (const path of ['/undionly.kpxe', '/boot/52-54-00-00-00-01.ipxe', '/api/v1/nodes', '/uix']) {
    const r = await get(port, path);
    assert.equal(r.status, 404, path);
    assert.equal(r.headers['content-security-policy'], undefined, path);
  }
});

test('loading the dashboard is not boot traffic: it must not fill the event log', () => {
  for (const path of ['/', '/index.html', '/ui/app.js', '/ui/style.css']) assert.equal(isBootTraffic(path), false, path);
  for (const path of ['/boot/52-54-00-00-00-01.ipxe', '/store/debian/0123456789abcdef/vmlinuz', '/ipxe.efi']) assert.equal(isBootTraffic(path), true, path);
});
