import { request, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DisklessConfig } from '../config/types.js';
import { SseParser } from './sse-parser.js';
import { allPages } from '../dashboard/ui/pages.js';

/** The running server's API, as the config says where it listens. */
export function apiBase(config: Pick<DisklessConfig, 'server'>): string {
  return `http://${config.server.address}:${config.server.httpPort}/api/v1`;
}

/** The server did not answer, or answered with an error: the message says what to do. */
export class ServerApiError extends Error {
  override name = 'ServerApiError';
}

function unreachable(url: string, e: unknown): ServerApiError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ECONNREFUSED' ? 'connection refused' : code === 'EHOSTUNREACH' ? 'host unreachable' : (e as Error).message;
  return new ServerApiError(`Cannot reach the Diskless server at ${new URL(url).origin}: ${why}. Is "diskless serve --config FILE" running with this config?`);
}

// No AbortSignal on the request: an abort would destroy finished responses too, and their
// 'error' would then have no listener. Callers stop what they read instead.
function open(url: string, headers: Record<string, string>): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'application/json', ...headers } }, resolve);
    req.on('error', (e) => reject(unreachable(url, e)));
    req.end();
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
  return new ServerApiError(`${new URL(url).pathname}: ${what}${hint ? ` (${hint})` : ''}`);
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await open(url, {});
  if (res.statusCode !== 200) throw await failure(url, res);
  return JSON.parse(await readText(res)) as T;
}

/** Every item of a paged list (`base` + /nodes, /discovered), following `next` to the end. */
export async function getAll<T>(base: string, path: string, key: string): Promise<T[]> {
  return allPages<T>((p) => getJson<unknown>(`${base}${p}`), path, key);
}

export interface FollowOptions {
  /** Resume after this seq (Last-Event-ID); undefined starts with live events. */
  afterSeq?: number;
  signal?: AbortSignal;
  /** Wait before reconnecting (ms); default the server's `retry:` advice, else 3 s. */
  retryMs?: number;
  /** Told when the connection dropped and a reconnect is about to be tried. */
  onDrop?: (error: string) => void;
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
      const res = await open(url, { accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) });
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
      if (!connected || (e instanceof ServerApiError && !(e.message.startsWith('Cannot reach')))) throw e;
      opts.onDrop?.((e as Error).message);
      await sleep(retryMs, undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => {});
    }
  }
}
