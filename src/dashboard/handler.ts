import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { HttpHandler } from '../http/server.js';
import { isCode } from '../files/error-code.js';

export interface DashboardOptions {
  /** HTML, CSS and icons; default `dashboard/` at the package root. */
  assetsDir?: string;
  /** The page's ES modules as tsc compiled them (src/dashboard/ui); default beside this file. */
  scriptsDir?: string;
}

/**
 * The page forbids everything it does not use: no inline script or style, no other origin,
 * no framing. EventSource and fetch are `connect-src`; the timeline is inline SVG markup, which
 * `img-src` does not govern.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * The web dashboard as an HttpHandler: `/` is the page, `/ui/NAME.EXT` its script modules,
 * style and icon. Nothing else is claimed, so boot files and the API pass through. Names are
 * one path segment of [a-z0-9-] (no dots, no slashes): nothing outside the two folders can
 * be named. Files are read once and kept; they change only with an upgrade, i.e. a restart.
 * `no-cache` plus a content ETag makes browsers revalidate cheaply (304) on every load.
 */
export function dashboardHandler(opts: DashboardOptions = {}): HttpHandler {
  const assetsDir = opts.assetsDir ?? fileURLToPath(new URL('../../../dashboard/', import.meta.url));
  const scriptsDir = opts.scriptsDir ?? fileURLToPath(new URL('./ui/', import.meta.url));
  const cache = new Map<string, Promise<Asset | undefined>>();

  const locate = (path: string): { file: string; ext: string } | undefined => {
    if (path === '/' || path === '/index.html') return { file: join(assetsDir, 'index.html'), ext: 'html' };
    const m = /^\/ui\/([a-z0-9][a-z0-9-]*)\.(js|css|svg)$/.exec(path);
    if (!m) return undefined;
    // No dot in a name: compiled tests (NAME.test.js) and source maps are not served.
    const [, name, ext] = m as unknown as [string, string, string];
    return { file: join(ext === 'js' ? scriptsDir : assetsDir, `${name}.${ext}`), ext };
  };

  const load = (path: string, file: string, ext: string): Promise<Asset | undefined> => {
    let p = cache.get(path);
    if (!p) {
      p = readAsset(file, ext);
      cache.set(path, p);
      // A missing file is not remembered: a build running next to the server may still write it.
      void p.then((a) => a ?? cache.delete(path));
    }
    return p;
  };

  return async (req, res, path) => {
    if (path !== '/' && path !== '/index.html' && !path.startsWith('/ui/')) return false;
    const base = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'content-security-policy': CONTENT_SECURITY_POLICY };
    const where = locate(path);
    const asset = where && (await load(path, where.file, where.ext));
    if (!asset) {
      res.writeHead(404, { ...base, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end('Not found\n');
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...base, allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed\n');
      return true;
    }
    const headers = { ...base, 'content-type': asset.type, 'cache-control': 'no-cache', etag: asset.etag };
    if (etagMatches(req.headers['if-none-match'], asset.etag)) {
      res.writeHead(304, headers).end();
      return true;
    }
    res.writeHead(200, { ...headers, 'content-length': String(asset.body.length) });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
    return true;
  };
}

async function readAsset(file: string, ext: string): Promise<Asset | undefined> {
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch (e) {
    if (isCode(e, 'ENOENT')) return undefined;
    throw e;
  }
  // tsc's source-map comment would make browser tools ask for .map files that are not served.
  if (ext === 'js') body = Buffer.from(body.toString('utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'));
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, type: TYPES[ext] ?? 'application/octet-stream', etag };
}

/** If-None-Match: a list of tags, or `*`; weak tags compare equal to strong ones (RFC 9110 §13.1.2). */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
