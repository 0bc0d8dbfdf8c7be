import { isIPv6 } from 'node:net';
import type { HttpHandler } from '../http/server.js';

/** "10.0.0.1:8780" → "10.0.0.1", "[::1]:8780" → "::1", "Admin.Example" → "admin.example". */
export function hostOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const h = header.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d+)?$/.exec(h);
  if (bracketed) return bracketed[1];
  if (isIPv6(h)) return h;
  const m = /^([a-z0-9.-]+)(?::\d+)?$/.exec(h);
  return m?.[1]?.replace(/\.$/, '');
}

/**
 * Answers 421 to a request whose Host header is not one of `names` (compared without port and
 * case). A web page on another site can make an admin's browser send requests to this listener
 * by pointing its own name at our address (DNS rebinding); such a request carries the page's
 * name in Host, so it never reaches the API, and the browser's same-origin rule then keeps the
 * page from reading anything.
 */
export function hostCheck(names: readonly string[]): HttpHandler {
  const allowed = new Set(names.map((n) => hostOf(n)).filter((n): n is string => n !== undefined));
  return async (req, res) => {
    const host = hostOf(req.headers.host);
    if (host !== undefined && allowed.has(host)) return false;
    res.writeHead(421, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(`${JSON.stringify({
      error: `this server does not answer to the host name ${JSON.stringify(req.headers.host ?? '')}`,
      hint: 'use its address, or add the name to api.hostnames in the config',
    })}\n`);
    return true;
  };
}
