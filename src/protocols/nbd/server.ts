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
  /**
   * Connections served at once to one client address; beyond it that address's new ones are
   * closed on accept while other addresses are still served. Default 8: a node's kernel uses
   * one (its keeper replaces it after a server restart), nbdcopy opens four when the export
   * allows multi-conn.
   */
  readonly maxConnectionsPerPeer?: number;
  /** Greeting to the end of option haggling. Default 10 000 ms. */
  readonly handshakeTimeoutMs?: number;
  /** Silence after which TCP keepalive probes start (one a second). Default 60 000 ms. */
  readonly keepAliveIdleMs?: number;
  /**
   * How long the peer may leave what we sent unacknowledged, or keepalive probes unanswered,
   * before the connection is dropped (TCP_USER_TIMEOUT). Default 70 000 ms: the keepalive
   * idle time plus ten probes, as before, now also when a reply was in flight.
   */
  readonly deadPeerTimeoutMs?: number;
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
  /** Open connections by client address; an address is deleted when its last one closes. */
  readonly #byAddress = new Map<string, number>();
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
    const address = socket.remoteAddress ?? '?';
    const limit = this.#o.maxConnections ?? 512;
    const perPeer = this.#o.maxConnectionsPerPeer ?? 8;
    const refusal = !this.#server ? 'server stopping'
      : this.#connections.size >= limit ? `too many connections (limit ${limit})`
      : (this.#byAddress.get(address) ?? 0) >= perPeer ? `too many connections from ${address} (limit ${perPeer})`
      : undefined;
    if (refusal !== undefined) {
      this.#log.log('warn', 'connection refused', { peer, error: refusal });
      this.#emit({ type: 'error', peer, bytesRead: 0, durationMs: 0, error: refusal });
      socket.destroy();
      return;
    }
    const connection = new NbdConnection(socket, {
      exports: this.#o.exports,
      log: this.#log,
      handshakeTimeoutMs: this.#o.handshakeTimeoutMs ?? 10_000,
      keepAliveIdleMs: this.#o.keepAliveIdleMs ?? 60_000,
      deadPeerTimeoutMs: this.#o.deadPeerTimeoutMs ?? 70_000,
      emit: (e) => this.#emit(e),
    });
    this.#connections.add(connection);
    this.#byAddress.set(address, (this.#byAddress.get(address) ?? 0) + 1);
    void connection.closed.then(() => {
      this.#connections.delete(connection);
      const left = (this.#byAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#byAddress.set(address, left);
      else this.#byAddress.delete(address);
    });
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
