import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeMac } from '../net/mac.js';
import type { HttpHandler } from './server.js';
import { readBody } from './read-body.js';

/** What a node's /init (or its booted system) says about its boot. */
export interface NodeReport {
  mac: string;
  stage: string;
  status: string;
  detail: string;
  peer: string;
  /** Anything else the node sent, e.g. uptime_ms. */
  fields: Record<string, string>;
}

const MAX_BODY = 4096;
const WORD = /^[a-z_]{1,32}$/;

function answer(res: ServerResponse, status: number, text: string): true {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text + '\n');
  return true;
}

/**
 * POST /api/v1/report with a form body (mac, stage, status, detail, …): busybox wget in the
 * initramfs can send nothing fancier. Bodies are capped and fields validated before use.
 */
export function reportEndpoint(onReport: (r: NodeReport) => void): HttpHandler {
  return async (req, res, path) => {
    if (path !== '/api/v1/report') return false;
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return answer(res, 405, 'Method not allowed: POST a form with mac, stage and status');
    }
    const body = await readBody(req, MAX_BODY);
    if (body === undefined) return answer(res, 413, `Report too large (limit ${MAX_BODY} bytes)`);
    const form = new URLSearchParams(body);
    const mac = normalizeMac(form.get('mac') ?? '');
    const stage = form.get('stage') ?? '';
    const status = form.get('status') ?? '';
    if (!mac) return answer(res, 400, 'Bad report: mac is missing or not a MAC address');
    if (!WORD.test(stage) || !WORD.test(status)) return answer(res, 400, 'Bad report: stage and status must be short lower-case words');
    const fields: Record<string, string> = {};
    for (const [k, v] of form) if (!['mac', 'stage', 'status', 'detail'].includes(k) && WORD.test(k)) fields[k] = v.slice(0, 256);
    onReport({ mac, stage, status, detail: (form.get('detail') ?? '').slice(0, 1024), peer: req.socket.remoteAddress ?? '?', fields });
    return answer(res, 200, 'ok');
  };
}
