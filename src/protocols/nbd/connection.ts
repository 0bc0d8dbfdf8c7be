import { isIPv6, type Socket } from 'node:net';
import type { Logger } from '../../log/logger.js';
import { setTcpUserTimeout } from '../../net/sockopt.js';
import { ClientFlag, Command, Errno, KNOWN_CLIENT_FLAGS, Option, Reply, commandName, optionName } from './constants.js';
import type { NbdEvent } from './events.js';
import type { NbdExport, NbdExportProvider } from './exports.js';
import { encodeGreeting } from './greeting.js';
import { answerOption, type OptionOutcome } from './negotiate.js';
import { encodeOptionReply } from './option-reply.js';
import { NbdParser, type ClientMessage } from './parser.js';
import { decideRequest } from './request-policy.js';
import { encodeErrorChunk, encodeOffsetDataPrefix } from './structured-reply.js';
import { encodeSimpleReply, type NbdRequest } from './transmission.js';

export interface ConnectionSettings {
  readonly exports: NbdExportProvider;
  /** Already carries `service: 'nbd'`. */
  readonly log: Logger;
  /** From accept to the end of option haggling; idle or slow handshakes are dropped. */
  readonly handshakeTimeoutMs: number;
  /** Silence before TCP keepalive probes start. */
  readonly keepAliveIdleMs: number;
  /** Unacknowledged data or unanswered probes for this long end the connection (TCP_USER_TIMEOUT). */
  readonly deadPeerTimeoutMs: number;
  /** Never throws (the server wraps the user's hook). */
  readonly emit: (event: NbdEvent) => void;
}

/**
 * Reads served concurrently on one connection, and the bytes they may hold. Beyond either,
 * the connection stops parsing requests (and, once a little is buffered, stops reading the
 * socket) until replies go out, so a client that pipelines without reading cannot make the
 * server buffer without bound.
 */
const MAX_IN_FLIGHT = 16;
const MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024;
/**
 * Options answered per connection. Real clients send a handful; a loop of thousands of LIST or
 * INFO inside the handshake timeout is what the spec calls a denial of service, which allows a
 * hard disconnect.
 */
const MAX_OPTIONS = 256;
/** Unparsed bytes buffered before the socket is paused. */
const HIGH_WATER_BYTES = 256 * 1024;
/*
 * Transmission has no idle timeout, on purpose. A node's root stays attached for days and may
 * send nothing for hours (its page cache holds what it uses). Cutting it would be transparent
 * only if the node reconnected to the same bytes, and it does not always: nbd-client hands the
 * socket to the kernel and exits; only diskless-nbd-keeper (src/initramfs/helpers/
 * nbd-keeper.c, absent from initrds not built here, and inert without the kernel's nbd netlink
 * interface) reconnects, by export name, checking only the size. An export named by profile
 * whose image file was replaced since would hand the node a different image under its mounted
 * squashfs, and a store version removed since would refuse it: either way the node loses its
 * root. The open connection is what keeps a running node on the image it booted. And an idle
 * timeout would not stop a hostile client, which can send a read now and then. What bounds
 * connections instead: maxConnectionsPerPeer per address, and TCP keepalive plus
 * TCP_USER_TIMEOUT (deadPeerTimeoutMs), which notice a peer that is gone, idle or mid-reply.
 */
/** After our FIN, how long the peer gets to close its side before the socket is destroyed. */
const LINGER_MS = 5_000;

type Phase = 'handshake' | 'transmission' | 'draining' | 'closed';

/** One client, from greeting to close. Every socket callback is guarded: nothing escapes. */
export class NbdConnection {
  readonly #socket: Socket;
  readonly #s: ConnectionSettings;
  readonly #parser = new NbdParser();
  readonly #peer: string;
  readonly #started = Date.now();
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;
  #phase: Phase = 'handshake';
  #noZeroes = false;
  /** NBD_OPT_STRUCTURED_REPLY was acknowledged: READ replies are structured chunks. */
  #structured = false;
  /** An option is being answered; the next one is not parsed until it is. */
  #busy = false;
  #inputEnded = false;
  #inFlight = 0;
  #inFlightBytes = 0;
  #export: NbdExport | undefined;
  #exportName: string | undefined;
  #bytesRead = 0;
  #options = 0;
  #requests = 0;
  #error: string | undefined;
  #reason: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ending = false;

  constructor(socket: Socket, settings: ConnectionSettings) {
    this.#socket = socket;
    this.#s = settings;
    this.#peer = formatPeer(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    this.closed = new Promise((resolve) => { this.#resolveClosed = resolve; });
  }

  get peer(): string { return this.#peer; }

  start(): void {
    const s = this.#socket;
    s.setNoDelay(true);
    // libuv then probes once a second, ten times (TCP_KEEPINTVL 1, TCP_KEEPCNT 10), unless
    // TCP_USER_TIMEOUT below ends it first.
    s.setKeepAlive(true, this.#s.keepAliveIdleMs);
    try {
      setTcpUserTimeout(s, this.#s.deadPeerTimeoutMs);
    } catch (e) {
      this.#s.log.log('debug', 'cannot set TCP_USER_TIMEOUT', { peer: this.#peer, error: message(e) });
    }
    s.on('data', (chunk: Buffer) => this.#guard(() => this.#onData(chunk)));
    s.on('end', () => this.#guard(() => { this.#inputEnded = true; this.#pump(); }));
    s.on('drain', () => this.#guard(() => this.#pump()));
    s.on('error', (e) => {
      // "the server SHOULD gracefully handle the client sending an NBD_OPT_ABORT and closing
      // the connection without waiting for a reply": errors once we are ending are noise.
      if (this.#phase !== 'draining') this.#error ??= e.message;
    });
    s.on('close', () => this.#finish());
    this.#timer = setTimeout(() => this.#guard(() => this.#abort('handshake timed out', 'warn')), this.#s.handshakeTimeoutMs);
    this.#timer.unref();
    this.#emit('connect');
    this.#write(encodeGreeting());
  }

  /** Closes at once; in-flight reads are dropped (used when the server stops). */
  destroy(reason: string): void {
    this.#reason ??= reason;
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    // After NBD_CMD_DISC or a final option reply the client "MUST NOT send anything"; what it
    // sends anyway is read and dropped so its FIN can still be seen and the socket closes cleanly.
    if (this.#phase === 'draining' || this.#phase === 'closed') return;
    this.#parser.push(chunk);
    this.#pump();
  }

  /** Parses and handles as many messages as the current phase allows. */
  #pump(): void {
    for (;;) {
      if (this.#phase === 'draining' || this.#phase === 'closed') break;
      if (this.#phase === 'handshake' && this.#busy) break;
      if (this.#phase === 'transmission' && this.#saturated()) break;
      const message = this.#parser.next();
      if (!message) {
        // Waiting for bytes that will never come: the client half-closed mid-message or
        // between messages; either way, finish what is in flight and close.
        if (this.#inputEnded) this.#drain(this.#phase === 'handshake' ? 'client closed during handshake' : 'client closed');
        break;
      }
      this.#handle(message);
    }
    if (this.#phase === 'draining') this.#endWhenIdle();
    else if (this.#parser.buffered >= HIGH_WATER_BYTES) this.#socket.pause();
    else if (this.#socket.isPaused()) this.#socket.resume();
  }

  #saturated(): boolean {
    return this.#inFlight >= MAX_IN_FLIGHT || this.#inFlightBytes >= MAX_IN_FLIGHT_BYTES || this.#socket.writableNeedDrain;
  }

  #handle(message: ClientMessage): void {
    switch (message.type) {
      case 'client-flags': {
        // "the server MUST drop the TCP connection if the client sets an unknown flag".
        const unknown = message.flags & ~KNOWN_CLIENT_FLAGS;
        if (unknown !== 0) return this.#abort(`unknown client flags 0x${unknown.toString(16)}`, 'warn');
        this.#noZeroes = (message.flags & ClientFlag.NO_ZEROES) !== 0;
        return;
      }
      case 'option':
        if (++this.#options > MAX_OPTIONS) return this.#abort(`more than ${MAX_OPTIONS} options`, 'warn');
        return this.#onOption(message.option, message.data);
      case 'option-too-big': {
        const error = `option ${optionName(message.option)} carries ${message.length} bytes of data, refused unread`;
        this.#s.log.log('warn', 'option too big', { peer: this.#peer, option: optionName(message.option), length: message.length });
        this.#error ??= error;
        // EXPORT_NAME has no error reply; anything else learns why before the close.
        if (message.option === Option.EXPORT_NAME) return this.#abort(error, 'debug');
        this.#write(encodeOptionReply(message.option, Reply.ERR_TOO_BIG, Buffer.from('Option data too large')));
        return this.#drain(error);
      }
      case 'request':
        return this.#onRequest(message.request);
      case 'error':
        return this.#abort(message.error, 'warn');
    }
  }

  #onOption(option: number, data: Buffer): void {
    this.#busy = true;
    this.#s.log.log('debug', 'option', { peer: this.#peer, option: optionName(option), length: data.length });
    answerOption(option, data, { exports: this.#s.exports, noZeroes: this.#noZeroes })
      .then((outcome) => this.#guard(() => this.#apply(outcome)))
      .catch((e: unknown) => this.#abort(`Cannot answer option ${optionName(option)}: ${message(e)}`, 'error'))
      .finally(() => {
        this.#busy = false;
        this.#guard(() => this.#pump());
      });
  }

  #apply(outcome: OptionOutcome): void {
    if (this.#phase !== 'handshake') return;
    this.#write(...outcome.replies);
    switch (outcome.next) {
      case 'options':
        if (outcome.structuredReplies) this.#structured = true;
        return;
      case 'transmission':
        clearTimeout(this.#timer);
        this.#phase = 'transmission';
        this.#parser.startTransmission();
        this.#export = outcome.export;
        this.#exportName = outcome.name;
        this.#s.log.log('debug', 'attached', { peer: this.#peer, export: outcome.name, size: outcome.export.size });
        this.#emit('attach');
        return;
      case 'close':
        if (outcome.refused) {
          this.#error ??= outcome.reason;
          this.#s.log.log('warn', 'export refused', { peer: this.#peer, error: outcome.reason });
        }
        return this.#drain(outcome.reason);
    }
  }

  #onRequest(request: NbdRequest): void {
    this.#requests++;
    const exp = this.#export!;
    const action = decideRequest(request, exp.size);
    switch (action.action) {
      case 'reply':
        if (action.error !== Errno.OK) {
          this.#s.log.log('debug', 'request refused', {
            peer: this.#peer, command: commandName(request.command), offset: String(request.offset), length: request.length,
            errno: action.error, reason: action.reason,
          });
        }
        this.#write(this.#errorReply(request.command, request.cookie, action.error, action.reason ?? ''));
        return;
      case 'disconnect':
        // "The server MUST handle all outstanding requests … and close the TCP session."
        return this.#drain('client disconnected');
      case 'read': {
        const now = exp.slices?.(action.offset, action.length);
        // In memory already: answered in this turn, no promise, no thread-pool hop.
        if (now !== undefined && !(now instanceof Promise)) {
          this.#sendRead(request.cookie, action.offset, action.length, now);
          return;
        }
        this.#inFlight++;
        this.#inFlightBytes += action.length;
        this.#read(exp, request.cookie, action.offset, action.length, now)
          .catch((e: unknown) => this.#abort(`Cannot reply to read: ${message(e)}`, 'error'))
          .finally(() => {
            this.#inFlight--;
            this.#inFlightBytes -= action.length;
            this.#guard(() => this.#pump());
          });
        return;
      }
    }
  }

  async #read(exp: NbdExport, cookie: bigint, offset: number, length: number, pending?: Promise<readonly Buffer[]>): Promise<void> {
    let data: readonly Buffer[] | undefined;
    try {
      data = pending !== undefined ? await pending : [await exp.read(offset, length)];
      const got = data.reduce((n, b) => n + b.length, 0);
      if (got !== length) throw new Error(`short read: ${got} of ${length} bytes`);
    } catch (e) {
      data = undefined;
      this.#s.log.log('warn', 'read failed', { peer: this.#peer, export: this.#exportName, offset, length, error: message(e) });
    }
    // A simple reply's header promises the whole payload, so the header is sent only with
    // data already in hand; a failure is an EIO with no payload ("MUST NOT send any payload").
    if (data === undefined) {
      this.#write(this.#errorReply(Command.READ, cookie, Errno.EIO, 'read failed on the server'));
      return;
    }
    this.#sendRead(cookie, offset, length, data);
  }

  /** A successful READ's reply: its header and the payload's slices in one corked write. */
  #sendRead(cookie: bigint, offset: number, length: number, data: readonly Buffer[]): void {
    const header = this.#structured ? encodeOffsetDataPrefix(cookie, BigInt(offset), length) : encodeSimpleReply(Errno.OK, cookie);
    if (this.#write(header, ...data)) this.#bytesRead += length;
  }

  /**
   * A payload-less answer. Once structured replies are on, a READ "MUST NOT" get a simple
   * reply, even an error; other commands keep simple replies, which the spec allows.
   */
  #errorReply(command: number, cookie: bigint, error: number, reason: string): Buffer {
    if (this.#structured && command === Command.READ) return encodeErrorChunk(cookie, error, reason);
    return encodeSimpleReply(error, cookie);
  }

  /** Stops parsing; closes once in-flight work is done. */
  #drain(reason: string): void {
    if (this.#phase === 'draining' || this.#phase === 'closed') return;
    this.#reason ??= reason;
    this.#phase = 'draining';
    clearTimeout(this.#timer);
    this.#endWhenIdle();
  }

  #endWhenIdle(): void {
    if (this.#ending || this.#inFlight > 0 || this.#busy) return;
    this.#ending = true;
    // Closing with unread input would send a RST that can destroy a final reply before the
    // client reads it, so the socket is half-closed and the client's FIN awaited.
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), LINGER_MS).unref();
  }

  #abort(error: string, level: 'debug' | 'warn' | 'error'): void {
    if (this.#phase === 'closed') return;
    this.#error ??= error;
    if (level !== 'debug') this.#s.log.log(level, 'closing connection', { peer: this.#peer, export: this.#exportName, error });
    this.#socket.destroy();
  }

  /** Writes messages back to back, as one unit; false when the socket can no longer take them. */
  #write(...chunks: Buffer[]): boolean {
    const s = this.#socket;
    if (s.destroyed || s.writableEnded || chunks.length === 0) return false;
    // Corked so a header and its payload leave in one writev; single-threaded JS already keeps
    // another reply from landing between them.
    s.cork();
    for (const chunk of chunks) s.write(chunk);
    s.uncork();
    return true;
  }

  #finish(): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    clearTimeout(this.#timer);
    const durationMs = Date.now() - this.#started;
    this.#s.log.log('info', 'connection closed', {
      peer: this.#peer,
      export: this.#exportName,
      bytesRead: this.#bytesRead,
      requests: this.#requests,
      durationMs,
      reason: this.#reason,
      error: this.#error,
    });
    this.#emit(this.#error === undefined ? 'disconnect' : 'error');
    this.#resolveClosed();
  }

  #emit(type: NbdEvent['type']): void {
    this.#s.emit({
      type,
      peer: this.#peer,
      ...(this.#exportName === undefined ? {} : { export: this.#exportName }),
      bytesRead: this.#bytesRead,
      durationMs: Date.now() - this.#started,
      ...(type === 'error' && this.#error !== undefined ? { error: this.#error } : {}),
    });
  }

  /** Runs a socket callback; a bug in it closes this connection, never the server. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#abort(`internal error: ${message(e)}`, 'error');
    }
  }
}

export function formatPeer(address: string, port: number): string {
  return isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
