import { readFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { request as tlsRequest } from 'node:https';
import { X509Certificate } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DisklessConfig } from '../config/types.js';
import { SseParser } from './sse-parser.js';
import { allPages } from '../dashboard/ui/pages.js';
import { DisklessError } from '../errors/diskless-error.js';
import { CertificateError } from '../tls/server-certificate.js';
import { adminBaseUrl, API_PREFIX } from '../api/endpoints.js';

/** How to reach the admin API over HTTPS: trust exactly the server's own certificate. */
export interface ApiTls {
  ca: string;
  /** SHA-256 fingerprint the server must present (X509Certificate.fingerprint256). */
  fingerprint: string;
}

/** The running server's admin API, as the config says where it listens. */
export function apiBase(config: Pick<DisklessConfig, 'api'>): string {
  return adminBaseUrl(config.api.address, config.api.port) + API_PREFIX;
}

/** For an HTTPS admin API: the certificate in server.tls_cert, which the CLI then pins. */
export function apiTls(config: Pick<DisklessConfig, 'api' | 'server'>): ApiTls | undefined {
  if (!apiBase(config).startsWith('https:')) return undefined;
  let ca: string;
  try {
    ca = readFileSync(config.server.tlsCertFile, 'utf8');
  } catch (e) {
    throw new CertificateError(`Cannot read the server's certificate ${config.server.tlsCertFile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): the admin API at ${config.api.address} is HTTPS and is trusted by that certificate; copy it here or run this on the server`);
  }
  return { ca, fingerprint: new X509Certificate(ca).fingerprint256 };
}

/** The server did not answer (DL_SERVER_UNREACHABLE), or answered with an error (DL_SERVER_REFUSED): the message says what to do. */
export class ServerApiError extends DisklessError {
  override name = 'ServerApiError';

  constructor(code: 'DL_SERVER_UNREACHABLE' | 'DL_SERVER_REFUSED', message: string) {
    super(code, message);
  }
}

function unreachable(url: string, e: unknown): ServerApiError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ECONNREFUSED' ? 'connection refused' : code === 'EHOSTUNREACH' ? 'host unreachable' : (e as Error).message;
  return new ServerApiError('DL_SERVER_UNREACHABLE', `Cannot reach the Diskless server at ${new URL(url).origin}: ${why}. Is "diskless serve --config FILE" running with this config?`);
}

// No AbortSignal on the request: an abort would destroy finished responses too, and their
// 'error' would then have no listener. Callers stop what they read instead.
function open(url: string, headers: Record<string, string>, tls?: ApiTls, post?: { body: string }): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const options = {
      headers: { accept: 'application/json', ...headers, ...(post ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(post.body)) } : {}) },
      ...(post ? { method: 'POST' } : {}),
    };
    const req = tls === undefined
      ? request(url, options, resolve)
      : tlsRequest(url, {
          ...options,
          ca: tls.ca,
          // The certificate is pinned: its name need not match the address used to reach it.
          checkServerIdentity: (_host, cert) => (cert.fingerprint256 === tls.fingerprint ? undefined : new Error(`the server presented certificate ${cert.fingerprint256}, not ${tls.fingerprint} from server.tls_cert`)),
        }, resolve);
    req.on('error', (e) => reject(unreachable(url, e)));
    req.end(post?.body);
  });
}

async function readText(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res) text += chunk as string;
  return text;
}

/** Turns an API error body ({error, hint}) into one message. */
async function failure(url: string, res: IncomingMessage): Promise<ServerApiError> {
  const text = await readText(res).catch(() => '');
  let body: { error?: unknown; hint?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // A plain-text answer, e.g. from something else listening on the port.
  }
  const what = typeof body.error === 'string' ? body.error : text.trim().slice(0, 200) || `HTTP ${res.statusCode}`;
  const hint = res.statusCode === 403 ? 'this machine is not in api.read_from of the server\'s config' : typeof body.hint === 'string' ? body.hint : '';
  return new ServerApiError('DL_SERVER_REFUSED', `${new URL(url).pathname}: ${what}${hint ? ` (${hint})` : ''}`);
}

/**
 * The admin token a write needs, from api.admin_token_file: this command runs on the server,
 * as a user who may read it (root, or the service's user).
 */
export function adminToken(config: Pick<DisklessConfig, 'api'>): string {
  const file = config.api.adminTokenFile;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new DisklessError('DL_INVALID', `Cannot read the admin token ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): run this on the server as a user who may read it (e.g. root); "diskless serve" creates it at its first start`);
  }
}

/** POSTs `body` as JSON with the admin token; the answer's JSON (any 2xx). */
export async function postJson<T>(url: string, body: unknown, token: string, tls?: ApiTls): Promise<T> {
  const res = await open(url, { authorization: `Bearer ${token}` }, tls, { body: JSON.stringify(body) });
  if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode > 299) throw await failure(url, res);
  return JSON.parse(await readText(res)) as T;
}

export async function getJson<T>(url: string, tls?: ApiTls): Promise<T> {
  const res = await open(url, {}, tls);
  if (res.statusCode !== 200) throw await failure(url, res);
  return JSON.parse(await readText(res)) as T;
}

/** Every item of a paged list (`base` + /nodes, /discovered), following `next` to the end. */
export async function getAll<T>(base: string, path: string, key: string, tls?: ApiTls): Promise<T[]> {
  return allPages<T>((p) => getJson<unknown>(`${base}${p}`, tls), path, key);
}

export interface FollowOptions {
  /** Resume after this seq (Last-Event-ID); undefined starts with live events. */
  afterSeq?: number;
  signal?: AbortSignal;
  /** Wait before reconnecting (ms); default the server's `retry:` advice, else 3 s. */
  retryMs?: number;
  /** Told when the connection dropped and a reconnect is about to be tried. */
  onDrop?: (error: string) => void;
  tls?: ApiTls;
}

/**
 * Follows /events/stream until `signal` aborts. A dropped connection (server restarted, proxy
 * timeout) is reconnected with Last-Event-ID, so no event is missed or shown twice. The first
 * connection must succeed: a server that is not running is an error, not an endless wait.
 */
export async function followEvents(url: string, onData: (data: string) => void, opts: FollowOptions = {}): Promise<void> {
  let lastId = opts.afterSeq === undefined ? '' : String(opts.afterSeq);
  let connected = false;
  let retryMs = opts.retryMs ?? 3000;
  while (!opts.signal?.aborted) {
    const parser = new SseParser();
    parser.lastEventId = lastId;
    try {
      const res = await open(url, { accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) }, opts.tls);
      if (res.statusCode !== 200) throw await failure(url, res);
      connected = true;
      res.setEncoding('utf8');
      const stop = () => res.destroy();
      opts.signal?.addEventListener('abort', stop, { once: true });
      try {
        for await (const chunk of res) {
          for (const m of parser.push(chunk as string)) if (!opts.signal?.aborted) onData(m.data);
          lastId = parser.lastEventId;
          if (opts.retryMs === undefined && parser.retryMs !== undefined) retryMs = parser.retryMs;
        }
      } finally {
        opts.signal?.removeEventListener('abort', stop);
      }
      if (opts.signal?.aborted) return;
      throw new Error('the server closed the stream');
    } catch (e) {
      lastId = parser.lastEventId;
      if (opts.signal?.aborted) return;
      if (!connected || (e instanceof ServerApiError && e.code === 'DL_SERVER_REFUSED')) throw e;
      opts.onDrop?.((e as Error).message);
      await sleep(retryMs, undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => {});
    }
  }
}
