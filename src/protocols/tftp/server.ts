import { createSocket as createDgramSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { promises as fs } from 'node:fs';
import { isIPv6 } from 'node:net';
import { literalLookup } from '../../net/udp-lookup.js';
import { nullLogger, type Logger } from '../../log/logger.js';
import { decodeTftpPacket } from './decode.js';
import { encodeError } from './encode.js';
import { normalizeRequestedPath, openInsideRoot } from '../../files/confine.js';
import type { OpenFileRefusal } from '../../files/open-file.js';
import type { SizedReader } from '../../files/sized-reader.js';
import { DEFAULT_MAX_WINDOW_BYTES, negotiateOptions } from './negotiate.js';
import { ErrorCode, Opcode, type RequestPacket } from './packet.js';
import { ReadTransfer, type TransferEnd } from './transfer.js';

export interface Peer {
  readonly address: string;
  readonly port: number;
}

/** A file served from elsewhere than `root`: generated (a pxelinux.cfg/01-aa-bb-…), or the boot tree's. */
export type VirtualFile = SizedReader;

/**
 * Consulted first with the normalized root-relative path ("pxelinux.cfg/default", never a
 * leading slash or ".."). `undefined` falls through to `root` (or is "File not found" without
 * one); a refusal is answered as such, so a provider that confines names itself (the boot
 * tree's tftp_root) answers an escape with "Access violation".
 */
export type VirtualFileProvider = (path: string, peer: Peer) => Promise<VirtualFile | OpenFileRefusal | undefined>;

export interface TftpEvent {
  readonly type: 'start' | 'done' | 'error';
  readonly peer: Peer;
  readonly file: string;
  readonly bytes: number;
  readonly durationMs: number;
  readonly error?: string;
}

export type UdpSocketFactory = (type: 'udp4' | 'udp6') => Socket;

export interface TftpServerOptions {
  readonly address: string;
  /** Default 69; 0 picks a free port (see `address()` after start). */
  readonly port?: number;
  /**
   * Directory served read-only, by the confinement rule (src/files/confine.ts). Optional when
   * `files` is given: a provider that owns the whole namespace needs no root of its own.
   */
  readonly root?: string;
  readonly files?: VirtualFileProvider;
  /** Default 8192: bigger blksize requests are lowered to this. */
  readonly maxBlksize?: number;
  /** Default 64: bigger windowsize requests are lowered to this. */
  readonly maxWindowsize?: number;
  /** Default 65536: windowsize is also lowered so blksize × windowsize fits (see negotiate.ts). */
  readonly maxWindowBytes?: number;
  /** Retransmission timeout when the client does not set one (RFC 2349). Default 1000 ms. */
  readonly timeoutMs?: number;
  /** Retransmissions of one window before a transfer is abandoned. Default 5. */
  readonly retries?: number;
  /**
   * Retransmissions of the OACK or first window to a client that has acknowledged nothing yet,
   * each after the server's own `timeoutMs` whatever timeout the client asked for. Default 1:
   * a spoofed request then reflects two first blocks, not six, and frees its slot in 2 s.
   */
  readonly retriesBeforeFirstAck?: number;
  /** Concurrent transfers; beyond it requests get ERROR 0 "Server busy". Default 256. */
  readonly maxTransfers?: number;
  /**
   * Concurrent transfers per client address; beyond it that address's requests get ERROR 0
   * "Server busy" while others are still served. Default 4: firmware fetches one file at a
   * time, and a few repeated requests (an RRQ resent before our reply arrived, a tsize probe
   * abandoned with ERROR 8) still fit.
   */
  readonly maxTransfersPerPeer?: number;
  readonly logger?: Logger;
  readonly onEvent?: (event: TftpEvent) => void;
  readonly createSocket?: UdpSocketFactory;
}

interface ActiveTransfer {
  readonly socket: Socket;
  readonly transfer: ReadTransfer;
  readonly peer: Peer;
}

/** Error replies to a request, by the reason a path or file was refused. */
const REFUSAL = {
  'not-found': { code: ErrorCode.FileNotFound, message: 'File not found' },
  'not-a-file': { code: ErrorCode.FileNotFound, message: 'File not found' },
  denied: { code: ErrorCode.AccessViolation, message: 'Access violation' },
} as const;

/**
 * A read-only TFTP server (RFC 1350 with RFC 2347/2348/2349/7440 options). Requests arrive on
 * one socket; each accepted transfer gets its own socket on an ephemeral port, which is its
 * transfer ID (RFC 1350 §4).
 */
export class TftpServer {
  readonly #o: TftpServerOptions;
  readonly #log: Logger;
  readonly #createSocket: UdpSocketFactory;
  readonly #family: 'udp4' | 'udp6';
  readonly #transfers = new Set<ActiveTransfer>();
  /** Transfer sockets not yet closed; outlives #transfers while a final ERROR is flushed. */
  readonly #sockets = new Set<Socket>();
  #socket: Socket | undefined;
  /** The realpath of `root`, taken at start; undefined without a root. */
  #realRoot: string | undefined;
  /** Transfers running plus requests being set up, so the cap holds while files are opened. */
  #reserved = 0;
  /** The same, by client address (not port: a port is free for a client to change). */
  readonly #reservedByAddress = new Map<string, number>();
  #stopped = false;

  constructor(options: TftpServerOptions) {
    if (options.root === undefined && options.files === undefined) throw new Error('Cannot create a TFTP server without a root or a file provider');
    this.#o = options;
    this.#log = (options.logger ?? nullLogger).child({ service: 'tftp' });
    // Every address a TFTP socket sends to is a literal from a datagram (src/net/udp-lookup.ts).
    this.#createSocket = options.createSocket ?? ((type) => createDgramSocket({ type, lookup: literalLookup }));
    this.#family = isIPv6(options.address) ? 'udp6' : 'udp4';
  }

  /** Transfers in progress. */
  get activeTransfers(): number { return this.#transfers.size; }

  /** The bound request address; only valid after `start()`. */
  address(): Peer {
    if (!this.#socket) throw new Error('Cannot get address: server is not started');
    const a = this.#socket.address();
    return { address: a.address, port: a.port };
  }

  async start(): Promise<void> {
    if (this.#socket) throw new Error('Cannot start: server is already started');
    this.#stopped = false;
    this.#realRoot = this.#o.root === undefined ? undefined : await fs.realpath(this.#o.root);
    const socket = this.#createSocket(this.#family);
    await bind(socket, this.#o.address, this.#o.port ?? 69);
    socket.on('message', (msg, rinfo) => this.#onRequest(msg, rinfo));
    socket.on('error', (e) => this.#log.log('error', 'request socket error', { error: e.message }));
    this.#socket = socket;
    this.#log.log('info', 'listening', { address: this.#o.address, port: socket.address().port, root: this.#realRoot });
  }

  /** Closes the request socket and every transfer socket; running transfers get ERROR 0. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const socket = this.#socket;
    this.#socket = undefined;
    const closing: Array<Promise<void>> = [...this.#sockets].map(
      (s) => new Promise((resolve) => s.once('close', () => resolve())),
    );
    for (const t of [...this.#transfers]) {
      t.transfer.abort('Cannot finish transfer: server stopping', { code: ErrorCode.NotDefined, message: 'Server shutting down' });
    }
    if (socket) closing.push(new Promise((resolve) => socket.close(() => resolve())));
    await Promise.all(closing);
  }

  #onRequest(msg: Buffer, rinfo: RemoteInfo): void {
    const peer: Peer = { address: rinfo.address, port: rinfo.port };
    this.#handleRequest(msg, peer).catch((e: unknown) => {
      this.#log.log('error', 'request handler failed', { peer: formatPeer(peer), error: e instanceof Error ? e.message : String(e) });
    });
  }

  async #handleRequest(msg: Buffer, peer: Peer): Promise<void> {
    const decoded = decodeTftpPacket(msg);
    if (!decoded.ok) {
      this.#log.log('warn', 'malformed packet', { peer: formatPeer(peer), error: decoded.error });
      // A broken request still deserves an answer, or the client waits out its timeouts;
      // anything else malformed on the request port is dropped.
      if (decoded.opcode === Opcode.RRQ || decoded.opcode === Opcode.WRQ) {
        this.#reply(peer, ErrorCode.IllegalOperation, 'Malformed request');
      }
      return;
    }
    const packet = decoded.packet;
    if (packet.type === 'wrq') {
      this.#refuse(peer, packet.filename, ErrorCode.AccessViolation, 'Access violation: server is read-only', 'write request');
      return;
    }
    if (packet.type !== 'rrq') {
      // A late ACK or ERROR for a finished transfer sent to port 69: there is no TID to answer from.
      this.#log.log('debug', 'ignored packet on request port', { peer: formatPeer(peer), type: packet.type });
      return;
    }
    const mode = packet.mode.toLowerCase();
    // netascii is served as octet: boot files are binary and nobody boots over mail mode. A true
    // netascii conversion would also change the size announced by tsize.
    if (mode !== 'octet' && mode !== 'netascii') {
      this.#refuse(peer, packet.filename, ErrorCode.IllegalOperation, 'Unsupported mode', `mode ${packet.mode}`);
      return;
    }
    if (this.#reserved >= (this.#o.maxTransfers ?? 256)) {
      this.#refuse(peer, packet.filename, ErrorCode.NotDefined, 'Server busy', 'too many transfers');
      return;
    }
    const perPeer = this.#o.maxTransfersPerPeer ?? 4;
    if ((this.#reservedByAddress.get(peer.address) ?? 0) >= perPeer) {
      this.#refuse(peer, packet.filename, ErrorCode.NotDefined, 'Server busy', `too many transfers from ${peer.address} (limit ${perPeer})`);
      return;
    }
    this.#reserve(peer.address);
    let started = false;
    try {
      started = await this.#begin(packet, peer);
    } finally {
      if (!started) this.#release(peer.address);
    }
  }

  #reserve(address: string): void {
    this.#reserved++;
    this.#reservedByAddress.set(address, (this.#reservedByAddress.get(address) ?? 0) + 1);
  }

  #release(address: string): void {
    this.#reserved--;
    const left = (this.#reservedByAddress.get(address) ?? 1) - 1;
    // Deleted at zero, so a flood from many addresses leaves no entries behind.
    if (left > 0) this.#reservedByAddress.set(address, left);
    else this.#reservedByAddress.delete(address);
  }

  /** Opens the file and starts its transfer; false when it was refused instead. */
  async #begin(request: RequestPacket, peer: Peer): Promise<boolean> {
    const path = normalizeRequestedPath(request.filename);
    if (!path.ok) {
      this.#refuse(peer, request.filename, REFUSAL[path.reason].code, REFUSAL[path.reason].message, path.error);
      return false;
    }
    const file = path.path;
    let found: SizedReader | OpenFileRefusal | undefined;
    if (this.#o.files) {
      try {
        found = await this.#o.files(file, peer);
      } catch (e) {
        this.#refuse(peer, file, ErrorCode.NotDefined, 'Cannot generate file', `virtual file provider failed: ${e instanceof Error ? e.message : String(e)}`);
        return false;
      }
    }
    if (found === undefined && this.#realRoot !== undefined) {
      const opened = await openInsideRoot(this.#realRoot, file);
      found = opened.ok ? opened.reader : opened;
    }
    if (found === undefined) found = { ok: false, reason: 'not-found', error: `Cannot find ${file}` };
    if ('ok' in found) {
      this.#refuse(peer, file, REFUSAL[found.reason].code, REFUSAL[found.reason].message, found.error);
      return false;
    }
    const source = found;

    const negotiated = negotiateOptions(
      request.options,
      {
        maxBlksize: this.#o.maxBlksize ?? 8192,
        maxWindowsize: this.#o.maxWindowsize ?? 64,
        maxWindowBytes: this.#o.maxWindowBytes ?? DEFAULT_MAX_WINDOW_BYTES,
      },
      source.size,
    );
    const socket = this.#createSocket(this.#family);
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    try {
      // Same address as the request socket so the client sees replies from the server it asked.
      await bind(socket, this.#o.address, 0);
    } catch (e) {
      socket.close();
      await closeQuietly(source);
      this.#refuse(peer, file, ErrorCode.NotDefined, 'Server error', `Cannot bind transfer socket: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
    if (this.#stopped) {
      socket.close();
      await closeQuietly(source);
      return false;
    }

    const { blksize, windowsize } = negotiated;
    const log = this.#log.child({ peer: formatPeer(peer), file });
    let pendingSends = 0;
    let ended = false;
    const closeWhenFlushed = (): void => {
      // Close only once the last datagram (often a final ERROR) has left.
      if (ended && pendingSends === 0) socket.close();
    };
    const send = (datagram: Buffer): void => {
      // DATA goes without a completion callback (one process.nextTick per block saved): a lost
      // block is the retransmission timer's business, and a transfer ends only after the ACK of
      // its last block or with an ERROR, which is sent with a callback so the socket outlives it.
      if (datagram[1] === Opcode.DATA && datagram[0] === 0) {
        socket.send(datagram, peer.port, peer.address);
        return;
      }
      pendingSends++;
      socket.send(datagram, peer.port, peer.address, (e) => {
        pendingSends--;
        if (e) log.log('debug', 'send failed', { error: e.message });
        closeWhenFlushed();
      });
    };
    const onEnd = (end: TransferEnd): void => {
      ended = true;
      this.#transfers.delete(active);
      this.#release(peer.address);
      closeWhenFlushed();
      this.#reportEnd(log, peer, file, end, blksize, windowsize);
    };
    const serverTimeoutMs = this.#o.timeoutMs ?? 1000;
    const transfer = new ReadTransfer({
      source,
      blksize,
      windowsize,
      timeoutMs: negotiated.timeoutMs ?? serverTimeoutMs,
      retries: this.#o.retries ?? 5,
      retriesBeforeFirstAck: this.#o.retriesBeforeFirstAck ?? 1,
      timeoutBeforeFirstAckMs: serverTimeoutMs,
      oack: negotiated.oack,
      send,
      onEnd,
    });
    const active: ActiveTransfer = { socket, transfer, peer };
    socket.on('message', (msg, rinfo) => this.#onTransferPacket(active, log, msg, rinfo));
    socket.on('error', (e) => transfer.abort(`Cannot continue transfer: socket error ${e.message}`));
    this.#transfers.add(active);
    this.#emit({ type: 'start', peer, file, bytes: 0, durationMs: 0 });
    log.log('debug', 'transfer started', { blksize, windowsize, size: source.size, options: request.options.length });
    transfer.start();
    return true;
  }

  #onTransferPacket(active: ActiveTransfer, log: Logger, msg: Buffer, rinfo: RemoteInfo): void {
    try {
      if (rinfo.address !== active.peer.address || rinfo.port !== active.peer.port) {
        // RFC 1350 §4: a packet from a stranger gets ERROR 5 and the transfer carries on.
        log.log('debug', 'packet from unknown transfer ID', { from: formatPeer(rinfo) });
        // The callback keeps a failed send from surfacing as a socket 'error' that would end the transfer.
        active.socket.send(encodeError(ErrorCode.UnknownTransferId, 'Unknown transfer ID'), rinfo.port, rinfo.address, () => {});
        return;
      }
      // An ACK (opcode 4, block number; bytes after it ignored, as decodeTftpPacket does) is
      // almost every datagram a transfer receives: read it without building a packet.
      if (msg.length >= 4 && msg[0] === 0 && msg[1] === Opcode.ACK) {
        active.transfer.receiveAck(msg.readUInt16BE(2));
        return;
      }
      const decoded = decodeTftpPacket(msg);
      if (!decoded.ok) {
        log.log('warn', 'malformed packet', { error: decoded.error });
        active.transfer.abort(`Cannot continue transfer: ${decoded.error}`, { code: ErrorCode.IllegalOperation, message: 'Malformed packet' });
        return;
      }
      active.transfer.receive(decoded.packet);
    } catch (e) {
      log.log('error', 'transfer packet handler failed', { error: e instanceof Error ? e.message : String(e) });
    }
  }

  #reportEnd(log: Logger, peer: Peer, file: string, end: TransferEnd, blksize: number, windowsize: number): void {
    const fields = { bytes: end.bytes, durationMs: end.durationMs, blksize, windowsize, retransmits: end.retransmits };
    if (end.ok) {
      log.log('info', 'transfer done', fields);
      this.#emit({ type: 'done', peer, file, bytes: end.bytes, durationMs: end.durationMs });
      return;
    }
    // A client ERROR is routine (a duplicate RRQ's extra transfer, an OACK turned down), as is a stop.
    const quiet = end.reason === 'peer-error' || end.reason === 'aborted';
    log.log(quiet ? 'info' : 'warn', 'transfer failed', { ...fields, reason: end.reason, error: end.error });
    this.#emit({ type: 'error', peer, file, bytes: end.bytes, durationMs: end.durationMs, error: end.error });
  }

  #refuse(peer: Peer, file: string, code: number, message: string, why: string): void {
    this.#reply(peer, code, message);
    // pxelinux probes a dozen config names before "default": misses are routine, not warnings.
    const level = code === ErrorCode.FileNotFound ? 'debug' : 'warn';
    this.#log.log(level, 'request refused', { peer: formatPeer(peer), file, code, error: why });
    this.#emit({ type: 'error', peer, file, bytes: 0, durationMs: 0, error: why });
  }

  /** Refusals go out from the request socket: no transfer, so no TID of its own. */
  #reply(peer: Peer, code: number, message: string): void {
    this.#socket?.send(encodeError(code, message), peer.port, peer.address, (e) => {
      if (e) this.#log.log('debug', 'send failed', { peer: formatPeer(peer), error: e.message });
    });
  }

  #emit(event: TftpEvent): void {
    try {
      this.#o.onEvent?.(event);
    } catch (e) {
      this.#log.log('error', 'onEvent hook failed', { error: e instanceof Error ? e.message : String(e) });
    }
  }
}

function bind(socket: Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

async function closeQuietly(source: SizedReader): Promise<void> {
  try {
    await source.close();
  } catch {
    // Nothing was sent from it; a failing close leaves nothing to undo.
  }
}

function formatPeer(peer: Peer): string {
  return isIPv6(peer.address) ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
}
