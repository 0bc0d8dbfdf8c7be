import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { BootFile } from '../files/boot-file.js';
import { nullLogger, type Logger } from '../log/logger.js';
import { planFileResponse } from './range.js';

export interface HttpEvent {
  type: 'done' | 'error';
  peer: string;
  method: string;
  path: string;
  status: number;
  bytes: number;
  durationMs: number;
  error?: string;
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
}

/**
 * Serves boot scripts, kernels, initrds and images: GET and HEAD, single ranges, ETag and
 * Last-Modified validators. Bodies are streamed from the file, so size is not limited by memory.
 */
export class HttpServer {
  readonly #opts: HttpServerOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  #server: Server | undefined;

  constructor(opts: HttpServerOptions) {
    this.#opts = opts;
    this.#log = (opts.logger ?? nullLogger).child({ service: 'http' });
    this.#now = opts.now ?? Date.now;
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? this.#opts.port;
  }

  async start(): Promise<void> {
    const handle = (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res);
    const server: Server = this.#opts.tls ? createTlsServer({ ...this.#opts.tls, minVersion: 'TLSv1.2' }, handle) : createServer(handle);
    // Slow or idle clients must not hold sockets forever, but a 300 MB image over a slow link
    // must not be cut off: only the request headers have a deadline.
    server.headersTimeout = 20_000;
    server.requestTimeout = 0;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#opts.port, this.#opts.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('clientError', (err, socket) => {
      this.#log.log('warn', 'bad request', { peer: (socket as { remoteAddress?: string }).remoteAddress, error: err.message });
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
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

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = this.#now();
    const peer = req.socket.remoteAddress ?? '?';
    const method = req.method ?? 'GET';
    let path = '/';
    let bytes = 0;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
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
      this.#finish({ type: 'done', peer, method, path, status: res.statusCode, bytes, durationMs: this.#now() - started });
    } catch (e) {
      const error = (e as Error).message;
      if (!res.headersSent) res.writeHead(e instanceof URIError ? 400 : 500, { 'content-type': 'text/plain' }).end(`${e instanceof URIError ? 'Bad request' : 'Internal error'}\n`);
      else res.destroy();
      this.#finish({ type: 'error', peer, method, path, status: res.statusCode, bytes, durationMs: this.#now() - started, error });
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
      'content-length': String(length),
      ...(plan.status === 206 ? { 'content-range': `bytes ${plan.start}-${plan.end}/${file.size}` } : {}),
    });
    if (head || length === 0) {
      res.end();
      return 0;
    }
    let sent = 0;
    const body = file.stream(plan.start, plan.end);
    body.on('data', (c: Buffer) => (sent += c.length));
    await pipeline(body, res);
    return sent;
  }

  #finish(e: HttpEvent): void {
    this.#log.log(e.type === 'error' || e.status >= 500 ? 'warn' : 'info', e.type === 'error' ? 'request failed' : 'request', {
      peer: e.peer, method: e.method, path: e.path, status: e.status, bytes: e.bytes, durationMs: e.durationMs, error: e.error,
    });
    this.#opts.onEvent?.(e);
  }
}
