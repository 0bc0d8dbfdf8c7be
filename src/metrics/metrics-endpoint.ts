import type { HttpHandler } from '../http/server.js';
import { PROMETHEUS_CONTENT_TYPE } from './registry.js';

/** GET /metrics for Prometheus; `allow` (the API's read networks) decides who may scrape. */
export function metricsEndpoint(expose: () => string, allow: (remoteAddress: string | undefined) => boolean = () => true): HttpHandler {
  return async (req, res, path) => {
    if (path !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Method not allowed\n');
    } else if (!allow(req.socket.remoteAddress)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Metrics are not readable from this address\n');
    } else {
      const text = expose();
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': String(Buffer.byteLength(text)) });
      res.end(req.method === 'HEAD' ? undefined : text);
    }
    return true;
  };
}
