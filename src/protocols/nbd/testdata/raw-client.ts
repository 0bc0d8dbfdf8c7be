import { connect, type Socket } from 'node:net';
import { ByteQueue } from '../byte-queue.js';
import { GREETING_BYTES, OPTION_REPLY_HEADER_BYTES, Option, Reply, ReplyType, SIMPLE_REPLY_BYTES, STRUCTURED_REPLY_HEADER_BYTES } from '../constants.js';
import type { Decoded } from '../decoded.js';
import { decodeGreeting, encodeClientFlags } from '../greeting.js';
import { encodeInfoRequest, encodeOptionRequest } from '../option-request.js';
import { decodeInfoReply, decodeOptionReplyHeader, type InfoReply } from '../option-reply.js';
import { decodeErrorChunkPayload, decodeStructuredReplyHeader } from '../structured-reply.js';
import { decodeSimpleReply, encodeRequest, type NbdRequest, type SimpleReply } from '../transmission.js';

export interface RawOptionReply {
  readonly type: number;
  readonly data: Buffer;
}

function must<T>(d: Decoded<T>): T {
  if (!d.ok) throw new Error(d.error);
  return d.value;
}

/**
 * A deliberately small NBD client for tests: it sends exactly the bytes it is told to,
 * including broken ones, and reads the server's answers byte-exact.
 */
export class RawClient {
  readonly socket: Socket;
  readonly #queue = new ByteQueue();
  #want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  #closed = false;
  /** Resolves when the server has closed the connection (or it was destroyed). */
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.#queue.push(chunk);
      this.#serve();
    });
    socket.on('error', () => {});
    const end = () => {
      this.#closed = true;
      this.#want?.reject(new Error(`Connection closed with ${this.#queue.length} bytes unread`));
      this.#want = undefined;
    };
    socket.on('end', end);
    socket.on('close', end);
  }

  /** `localAddress`: another loopback address (127.0.0.2) stands for another host. */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, ...(localAddress === undefined ? {} : { localAddress }) }, () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Exactly `n` bytes, or a rejection if the server closes first. */
  read(n: number): Promise<Buffer> {
    if (this.#want) return Promise.reject(new Error('Cannot read: a read is already pending'));
    return new Promise((resolve, reject) => {
      this.#want = { n, resolve, reject };
      this.#serve();
    });
  }

  #serve(): void {
    const want = this.#want;
    if (!want) return;
    if (this.#queue.length >= want.n) {
      this.#want = undefined;
      want.resolve(this.#queue.consume(want.n));
    } else if (this.#closed) {
      this.#want = undefined;
      want.reject(new Error(`Connection closed with ${this.#queue.length} bytes unread`));
    }
  }

  /** Bytes received and not read yet. */
  get unread(): number { return this.#queue.length; }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** True when the server closes within `ms`, with nothing more sent. */
  async closesWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
    const r = await Promise.race([this.closed.then(() => true as const), timeout]);
    clearTimeout(timer);
    return r;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Reads the greeting and answers with `clientFlags`; returns the handshake flags. */
  async handshake(clientFlags = 3): Promise<number> {
    const greeting = must(decodeGreeting(await this.read(GREETING_BYTES)));
    this.write(encodeClientFlags(clientFlags));
    return greeting.handshakeFlags;
  }

  async readOptionReply(): Promise<RawOptionReply & { option: number }> {
    const header = must(decodeOptionReplyHeader(await this.read(OPTION_REPLY_HEADER_BYTES)));
    const data = header.length > 0 ? await this.read(header.length) : Buffer.alloc(0);
    return { option: header.option, type: header.type, data };
  }

  /** Sends one option and reads replies up to the final one (ACK or an error). */
  async option(option: number, data: Uint8Array = new Uint8Array(0)): Promise<RawOptionReply[]> {
    this.write(encodeOptionRequest(option, data));
    const replies: RawOptionReply[] = [];
    for (;;) {
      const reply = await this.readOptionReply();
      if (reply.option !== option) throw new Error(`Reply for option ${reply.option}, sent ${option}`);
      replies.push({ type: reply.type, data: reply.data });
      if (reply.type === Reply.ACK || reply.type >= 0x80000000) return replies;
    }
  }

  /** NBD_OPT_GO or NBD_OPT_INFO; the final reply type and the decoded infos. */
  async info(name: string | Uint8Array, infos: readonly number[] = [], option: number = Option.GO): Promise<{ final: number; infos: InfoReply[]; message: string }> {
    const replies = await this.option(option, encodeInfoRequest(name, infos));
    const final = replies.at(-1)!;
    return {
      final: final.type,
      infos: replies.filter((r) => r.type === Reply.INFO).map((r) => must(decodeInfoReply(r.data))),
      message: final.type === Reply.ACK ? '' : final.data.toString('utf8'),
    };
  }

  /** Handshake plus a successful GO; returns the export size. */
  async attach(name: string): Promise<bigint> {
    await this.handshake();
    const r = await this.info(name);
    if (r.final !== Reply.ACK) throw new Error(`GO ${name} failed: ${r.final.toString(16)} ${r.message}`);
    const exp = r.infos.find((i) => i.type === 'export');
    if (exp?.type !== 'export') throw new Error('GO without NBD_INFO_EXPORT');
    return exp.size;
  }

  send(request: NbdRequest, payload?: Uint8Array): void {
    this.write(payload ? Buffer.concat([encodeRequest(request), payload]) : encodeRequest(request));
  }

  /** One simple reply; `dataLength` bytes follow it only on success. */
  async reply(dataLength = 0): Promise<SimpleReply & { data: Buffer }> {
    const header = must(decodeSimpleReply(await this.read(SIMPLE_REPLY_BYTES)));
    const data = header.error === 0 && dataLength > 0 ? await this.read(dataLength) : Buffer.alloc(0);
    return { ...header, data };
  }

  /** NBD_CMD_READ with a fresh cookie, awaiting its reply (assumes nothing else in flight). */
  async pread(offset: number | bigint, length: number, cookie = 1n): Promise<SimpleReply & { data: Buffer }> {
    this.send({ flags: 0, command: 0, cookie, offset: BigInt(offset), length });
    return this.reply(length);
  }

  /** One structured reply chunk, decoded as far as this server sends them. */
  async chunk(): Promise<{ flags: number; type: number; cookie: bigint; offset?: bigint; data?: Buffer; error?: number; message?: string }> {
    const header = must(decodeStructuredReplyHeader(await this.read(STRUCTURED_REPLY_HEADER_BYTES)));
    const payload = await this.read(header.length);
    const base = { flags: header.flags, type: header.type, cookie: header.cookie };
    if (header.type === ReplyType.OFFSET_DATA) return { ...base, offset: payload.readBigUInt64BE(0), data: payload.subarray(8) };
    if (header.type === ReplyType.ERROR) return { ...base, ...must(decodeErrorChunkPayload(payload)) };
    return base;
  }
}
