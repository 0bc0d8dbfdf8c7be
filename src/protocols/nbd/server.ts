import { createServer, type Server, type Socket } from 'node:net';
import { nullLogger, type Logger } from '../../log/logger.js';
import { formatPeer, NbdConnection } from './connection.js';
import type { NbdEvent } from './events.js';
import type { NbdExportProvider } from './exports.js';

/** IANA port for newstyle NBD. */
export const NBD_PORT = 10809;

export interface NbdServerOptions {
  readonly address: string;
  /** Default 10809; 0 picks a free port (see `address()` after start). */
  readonly port?: number;
  readonly exports: NbdExportProvider;
  /** Connections served at once; beyond it new ones are closed on accept. Default 512. */
  readonly maxConnections?: number;
  /** Greeting to the end of option haggling. Default 10 000 ms. */
  readonly handshakeTimeoutMs?: number;
  readonly logger?: Logger;
  readonly onEvent?: (event: NbdEvent) => void;
}

/**
 * A read-only NBD server (fixed newstyle handshake, simple replies) for the root images of
 * diskless nodes: the Linux kernel client via nbd-client, and libnbd/qemu tools.
 */
export class NbdServer {
  readonly #o: NbdServerOptions;
  readonly #log: Logger;
  readonly #connections = new Set<NbdConnection>();
  #server: Server | undefined;

  constructor(options: NbdServerOptions) {
    this.#o = options;
    this.#log = (options.logger ?? nullLogger).child({ service: 'nbd' });
  }

  /** Connections currently open. */
  get connections(): number { return this.#connections.size; }

  /** The bound address; only valid after `start()`. */
  address(): { address: string; port: number } {
    const a = this.#server?.address();
    if (!a || typeof a === 'string') throw new Error('Cannot get address: server is not started');
    return { address: a.address, port: a.port };
  }

  async start(): Promise<void> {
    if (this.#server) throw new Error('Cannot start: server is already started');
    // allowHalfOpen: a client may send NBD_CMD_DISC and shut its side at once; the replies to
    // reads still in flight must be able to go out before our side closes.
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.#o.address, port: this.#o.port ?? NBD_PORT }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.#log.log('error', 'listening socket error', { error: e.message }));
    this.#server = server;
    this.#log.log('info', 'listening', { address: this.#o.address, port: this.address().port });
  }

  /** Stops accepting and closes every connection, in-flight requests included. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    const closing: Array<Promise<void>> = [];
    if (server) closing.push(new Promise((resolve) => server.close(() => resolve())));
    for (const c of this.#connections) {
      c.destroy('server stopping');
      closing.push(c.closed);
    }
    await Promise.all(closing);
  }

  #accept(socket: Socket): void {
    const peer = formatPeer(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    // Errors can arrive before the connection owns the socket (a reset during accept).
    socket.on('error', () => {});
    const limit = this.#o.maxConnections ?? 512;
    if (!this.#server || this.#connections.size >= limit) {
      const error = this.#server ? `too many connections (limit ${limit})` : 'server stopping';
      this.#log.log('warn', 'connection refused', { peer, error });
      this.#emit({ type: 'error', peer, bytesRead: 0, durationMs: 0, error });
      socket.destroy();
      return;
    }
    const connection = new NbdConnection(socket, {
      exports: this.#o.exports,
      log: this.#log,
      handshakeTimeoutMs: this.#o.handshakeTimeoutMs ?? 10_000,
      emit: (e) => this.#emit(e),
    });
    this.#connections.add(connection);
    void connection.closed.then(() => this.#connections.delete(connection));
    connection.start();
  }

  #emit(event: NbdEvent): void {
    try {
      this.#o.onEvent?.(event);
    } catch (e) {
      this.#log.log('error', 'onEvent hook threw', { error: e instanceof Error ? e.message : String(e) });
    }
  }
}
