import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { finished, pipeline } from 'node:stream/promises';
import type { BlockCache } from '../files/block-cache.js';
import type { BootFile } from '../files/boot-file.js';
import type { SizedReader } from '../files/sized-reader.js';
import { nullLogger, type LogFields, type Logger } from '../log/logger.js';
import { throttledLog } from '../log/throttled-log.js';
import { planFileResponse } from './range.js';
import { DEFAULT_MAX_HTTP_CONNECTIONS, DEFAULT_MAX_HTTP_CONNECTIONS_PER_PEER } from '../config/defaults.js';

export interface HttpEvent {
  type: 'done' | 'error';
  peer: string;
  method: string;
  path: string;
  /** The request target as sent, without its query, when it differs from the path (`//grubx64.efi`, a full URL). */
  target?: string;
  status: number;
  bytes: number;
  durationMs: number;
  error?: string;
}

/**
 * The path a request target names (RFC 9110 §7.1): origin-form `/a/b?q` or absolute-form
 * `http://host/a/b`, percent-decoded, its query dropped and runs of slashes merged into one (as
 * nginx's merge_slashes). shim loaded by UEFI HTTP boot fetches its next loader from the URL it
 * came from, last segment replaced by its built-in `\grubx64.efi` with the backslash turned,
 * so it asks for `//grubx64.efi`; the WHATWG URL parser would read that as a host named
 * grubx64.efi and the path `/`. Any other form, or a bad escape, is a URIError (400).
 */
export function requestPath(target: string): string {
  let raw: string;
  if (target.startsWith('/')) {
    raw = target.split(/[?#]/, 1)[0]!;
  } else if (/^https?:\/\//i.test(target)) {
    try {
      raw = new URL(target).pathname;
    } catch {
      throw new URIError(`Cannot read the request target ${JSON.stringify(target.slice(0, 200))}: not a valid URL`);
    }
  } else {
    throw new URIError(`Cannot read the request target ${JSON.stringify(target.slice(0, 200))}: neither a path nor an http URL`);
  }
  return decodeURIComponent(raw).replace(/\/{2,}/g, '/');
}

/** A dynamic route: returns false when the request is not its own. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;

export interface HttpServerOptions {
  address: string;
  port: number;
  /** Consulted before files, for every method (API endpoints). */
  handlers?: HttpHandler[];
  /** Files served for GET and HEAD; returns undefined for 404. Without it only handlers answer. */
  resolve?(path: string, peer: string): Promise<BootFile | undefined>;
  /** Serve HTTPS with this PEM certificate and key instead of plain HTTP. */
  tls?: { cert: string; key: string };
  logger?: Logger;
  onEvent?: (e: HttpEvent) => void;
  now?: () => number;
  /**
   * Receiving a request, headers and body, must be done within this many ms (else 408 and
   * the connection is closed), so a client that sends half a body cannot hold a connection
   * for ever. Sending the response is not covered: a download of any size and speed is never
   * cut off by it. Default 30 s.
   */
  requestTimeoutMs?: number;
  /** The headers alone; at most requestTimeoutMs. Default 20 s. */
  headersTimeoutMs?: number;
  /**
   * A connection on which nothing moves either way for this long is closed: a client that
   * stopped reading its download, or went away without a word. Default 120 s.
   */
  idleTimeoutMs?: number;
  /** Connections open at once; further ones are closed on accept. Default 1024. */
  maxConnections?: number;
  /** Connections open at once from one address; further ones from it are closed on accept. Default 64. */
  maxConnectionsPerPeer?: number;
  /**
   * Bodies are served through this cache of file blocks (shared with NBD): a block in memory
   * goes out as one socket write of a slice of it, with no read. Without it, bodies are
   * streamed from the file.
   */
  cache?: BlockCache;
}


/**
 * Serves boot scripts, kernels, initrds and images: GET and HEAD, single ranges, ETag and
 * Last-Modified validators. Bodies are streamed from the file, so size is not limited by memory.
 */
export class HttpServer {
  readonly #opts: HttpServerOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #maxConnections: number;
  readonly #maxPerPeer: number;
  /** Open connections by remote address. */
  readonly #perPeer = new Map<string, number>();
  readonly #logRefused: (fields: LogFields) => void;
  readonly #logBadRequest: (fields: LogFields) => void;
  #open = 0;
  #refused = 0;
  #server: Server | undefined;

  constructor(opts: HttpServerOptions) {
    this.#opts = opts;
    this.#log = (opts.logger ?? nullLogger).child({ service: 'http' });
    this.#now = opts.now ?? Date.now;
    this.#maxConnections = opts.maxConnections ?? DEFAULT_MAX_HTTP_CONNECTIONS;
    this.#maxPerPeer = opts.maxConnectionsPerPeer ?? DEFAULT_MAX_HTTP_CONNECTIONS_PER_PEER;
    // Floods repeat these by the thousand: one line a minute says it happens and how often.
    this.#logRefused = throttledLog(this.#log, 'warn', 'connection refused: too many open');
    this.#logBadRequest = throttledLog(this.#log, 'warn', 'bad request');
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? this.#opts.port;
  }

  /** Connections open now. */
  get connections(): number {
    return this.#open;
  }

  /** Connections closed on accept because a cap was reached, since start. */
  get refusedConnections(): number {
    return this.#refused;
  }

  async start(): Promise<void> {
    const requestTimeout = this.#opts.requestTimeoutMs ?? 30_000;
    const headersTimeout = Math.min(this.#opts.headersTimeoutMs ?? 20_000, requestTimeout);
    const options = {
      requestTimeout,
      headersTimeout,
      // How often Node looks for requests past those deadlines (its default is 30 s, which
      // would let a deadline of 1 s run to 31).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
      keepAliveTimeout: 5_000,
    };
    const handle = (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res);
    const server: Server = this.#opts.tls ? createTlsServer({ ...options, ...this.#opts.tls, minVersion: 'TLSv1.2' }, handle) : createServer(options, handle);
    server.timeout = this.#opts.idleTimeoutMs ?? 120_000;
    // Before Node's own listener: a refused socket is closed before anything is set up for it
    // (for HTTPS, before the TLS handshake).
    server.prependListener('connection', (socket: Socket) => this.#admit(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#opts.port, this.#opts.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      this.#logBadRequest({ peer: (socket as { remoteAddress?: string }).remoteAddress, error: err.message });
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
    this.#server = server;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Counts the connection in, or closes it at once when the server or its peer is at its cap. */
  #admit(socket: Socket): void {
    const peer = socket.remoteAddress ?? '?';
    const fromPeer = this.#perPeer.get(peer) ?? 0;
    if (this.#open >= this.#maxConnections || fromPeer >= this.#maxPerPeer) {
      this.#refused += 1;
      this.#logRefused({ peer, open: this.#open, fromPeer, maxConnections: this.#maxConnections, maxConnectionsPerPeer: this.#maxPerPeer });
      socket.destroy();
      return;
    }
    this.#open += 1;
    this.#perPeer.set(peer, fromPeer + 1);
    socket.once('close', () => {
      this.#open -= 1;
      const left = (this.#perPeer.get(peer) ?? 1) - 1;
      if (left > 0) this.#perPeer.set(peer, left);
      else this.#perPeer.delete(peer);
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = this.#now();
    const peer = req.socket.remoteAddress ?? '?';
    const method = req.method ?? 'GET';
    let path = '/';
    let bytes = 0;
    const raw = req.url ?? '/';
    // Logged when it differs from the path: what a firmware really asked for (never the
    // query, which is not a file's name and may one day carry something private).
    const asked = raw.split(/[?#]/, 1)[0]!;
    let target: string | undefined = asked.slice(0, 200);
    try {
      path = requestPath(raw);
      if (path === asked) target = undefined;
      let handled = false;
      for (const h of this.#opts.handlers ?? []) if ((handled = await h(req, res, path))) break;
      if (handled) {
        // the handler answered
      } else if (method !== 'GET' && method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Method not allowed\n');
      } else {
        const file = await this.#opts.resolve?.(path, peer);
        if (!file) res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
        else bytes = await this.#sendFile(req, res, file, method === 'HEAD');
      }
      this.#finish({ type: 'done', peer, method, path, ...(target !== undefined ? { target } : {}), status: res.statusCode, bytes, durationMs: this.#now() - started });
    } catch (e) {
      const error = (e as Error).message;
      if (!res.headersSent) res.writeHead(e instanceof URIError ? 400 : 500, { 'content-type': 'text/plain' }).end(`${e instanceof URIError ? 'Bad request' : 'Internal error'}\n`);
      else res.destroy();
      this.#finish({ type: 'error', peer, method, path, ...(target !== undefined ? { target } : {}), status: res.statusCode, bytes, durationMs: this.#now() - started, error });
    }
  }

  async #sendFile(req: IncomingMessage, res: ServerResponse, file: BootFile, head: boolean): Promise<number> {
    const plan = planFileResponse(
      { range: req.headers.range, ifNoneMatch: req.headers['if-none-match'], ifModifiedSince: req.headers['if-modified-since'], ifRange: req.headers['if-range'] as string | undefined },
      file,
    );
    const common = { etag: file.etag, 'last-modified': file.mtime.toUTCString(), 'accept-ranges': 'bytes' };
    if (plan.status === 304) {
      res.writeHead(304, common).end();
      return 0;
    }
    if (plan.status === 416) {
      res.writeHead(416, { ...common, 'content-range': `bytes */${file.size}` }).end();
      return 0;
    }
    const length = plan.end - plan.start + 1;
    res.writeHead(plan.status, {
      ...common,
      'content-type': file.contentType,
      // Spelt as RFC 9110 §8.6 does, not lowercase: the UEFI HTTP driver of GRUB 2.12 (Debian
      // trixie's signed network image, efi/http.c) finds a file's size by comparing header names
      // with "Content-Length" case-sensitively, and reads a file of 0 bytes without it.
      'Content-Length': String(length),
      ...(plan.status === 206 ? { 'content-range': `bytes ${plan.start}-${plan.end}/${file.size}` } : {}),
    });
    if (head || length === 0) {
      res.end();
      return 0;
    }
    const cache = this.#opts.cache;
    if (cache !== undefined) {
      const reader = await file.open();
      if (reader === undefined) throw new Error('Cannot serve the file: it can no longer be opened');
      try {
        return await sendThroughCache(res, cache, reader, plan.start, plan.end);
      } finally {
        await reader.close();
      }
    }
    let sent = 0;
    const body = file.stream(plan.start, plan.end);
    body.on('data', (c: Buffer) => (sent += c.length));
    await pipeline(body, res);
    return sent;
  }

  #finish(e: HttpEvent): void {
    this.#log.log(e.type === 'error' || e.status >= 500 ? 'warn' : 'info', e.type === 'error' ? 'request failed' : 'request', {
      peer: e.peer, method: e.method, path: e.path, target: e.target, status: e.status, bytes: e.bytes, durationMs: e.durationMs, error: e.error,
    });
    this.#opts.onEvent?.(e);
  }
}

/**
 * Bytes queued on a response before waiting for the socket to drain: enough that the kernel's
 * send buffer never runs dry between two turns of the loop. The queued bytes are slices of
 * cached blocks (no copies), so this costs no memory beyond the cache.
 */
const QUEUE_BYTES = 4 * 1024 * 1024;
/** One read of a file the cache does not keep: big, so a large image costs few thread-pool hops. */
const UNCACHED_READ_BYTES = 1024 * 1024;

/**
 * Writes the bytes start..end (inclusive) of `reader` to `res` from `cache`: blocks already in
 * memory are written at once, as slices, corked into one writev per turn; a miss is read (once,
 * however many responses wait for it) and written the same way. Waits for the socket to drain
 * past QUEUE_BYTES. Resolves with the bytes handed to the socket once the response is finished;
 * rejects when the client goes away first ("Premature close", as `pipeline` says). A file that
 * shrank since it was opened ends the body early, which the client sees as a short body.
 */
async function sendThroughCache(res: ServerResponse, cache: BlockCache, reader: SizedReader, start: number, end: number): Promise<number> {
  const step = cache.caches(reader) ? cache.blockBytes * 8 : UNCACHED_READ_BYTES;
  let sent = 0;
  for (let at = start; at <= end && !res.destroyed; ) {
    const want = Math.min(step, end + 1 - at);
    const slices = cache.peek(reader, at, want) ?? (await cache.read(reader, at, want));
    if (res.destroyed) break;
    let got = 0;
    res.cork();
    for (const slice of slices) {
      res.write(slice);
      got += slice.length;
    }
    res.uncork();
    sent += got;
    at += got;
    if (got < want) break;
    if (res.writableLength >= QUEUE_BYTES) await drained(res);
  }
  if (res.destroyed) throw new Error('Premature close');
  res.end();
  await finished(res);
  return sent;
}

/** Resolves when the response's socket drains or the response closes. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
