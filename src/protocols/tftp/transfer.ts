import { encodeData, encodeError, encodeOack } from './encode.js';
import type { SizedReader } from '../../files/sized-reader.js';
import { ErrorCode, type TftpOption, type TftpPacket } from './packet.js';
import { ReadAhead } from './read-ahead.js';
import { realTimers, type Timers } from './timers.js';

export type TransferFailure = 'timeout' | 'peer-error' | 'read-error' | 'protocol' | 'aborted';

export type TransferEnd = {
  readonly bytes: number;
  readonly durationMs: number;
  readonly retransmits: number;
} & (
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: TransferFailure; readonly error: string }
);

export interface ReadTransferOptions {
  readonly source: SizedReader;
  readonly blksize: number;
  readonly windowsize: number;
  readonly timeoutMs: number;
  /** Retransmissions of one window (or OACK) before giving up, once the client has acknowledged something. */
  readonly retries: number;
  /**
   * Retransmissions of the OACK or the first window while the client has acknowledged nothing;
   * default 1, and never more than `retries`. Until its first ACK the client's address is only
   * what a request claimed: a spoofed RRQ would turn every retransmission into traffic aimed at
   * someone else, and an absent client holds a transfer slot for the whole schedule.
   */
  readonly retriesBeforeFirstAck?: number;
  /**
   * Wait before each of those retransmissions; default `timeoutMs`. The server passes its own
   * timeout here, so a client's RFC 2349 timeout (up to 255 s) applies only once it has shown
   * it is there and cannot make an unanswered request hold a slot for minutes.
   */
  readonly timeoutBeforeFirstAckMs?: number;
  /** Negotiated options; when non-empty an OACK goes first and data waits for ACK 0. */
  readonly oack: readonly TftpOption[];
  /** Sends one datagram to the peer's TID. */
  readonly send: (datagram: Buffer) => void;
  /** Called exactly once. */
  readonly onEnd: (end: TransferEnd) => void;
  readonly timers?: Timers;
}

export type TransferState = 'idle' | 'oack' | 'data' | 'done';

const READ_AHEAD_BYTES = 128 * 1024;

/**
 * The sending side of one read request (RFC 1350, with RFC 2347 OACK and RFC 7440 windows).
 * Blocks are numbered from 1 without limit here; only the wire number wraps (65535 → 0).
 * It owns no socket: the server feeds it packets from the right TID and gives it `send`.
 */
export class ReadTransfer {
  readonly #o: ReadTransferOptions;
  readonly #timers: Timers;
  readonly #reader: ReadAhead;
  /** The last block is the first one shorter than blksize, possibly empty (RFC 1350 §6). */
  readonly #lastBlock: number;
  #state: TransferState = 'idle';
  #acked = 0;
  /** Highest block ever sent. An ACK up to it is real even mid-retransmission: the client may
   * be acknowledging the previous copy of the window. */
  #highestSent = 0;
  /** Bumped whenever a window is superseded, so a read finishing late sends nothing. */
  #generation = 0;
  #timer: unknown;
  #timeouts = 0;
  #retransmits = 0;
  #startedAt = 0;
  /** The client has acknowledged the OACK or a block: it exists at the address it claimed. */
  #heardFrom = false;

  constructor(options: ReadTransferOptions) {
    this.#o = options;
    this.#timers = options.timers ?? realTimers;
    this.#reader = new ReadAhead(options.source, Math.max(READ_AHEAD_BYTES, options.blksize * options.windowsize));
    this.#lastBlock = Math.floor(options.source.size / options.blksize) + 1;
  }

  get state(): TransferState { return this.#state; }
  /** Highest block the client has acknowledged. */
  get acked(): number { return this.#acked; }

  start(): void {
    if (this.#state !== 'idle') return;
    this.#startedAt = this.#timers.now();
    if (this.#o.oack.length > 0) {
      this.#state = 'oack';
      this.#sendOack();
    } else {
      this.#state = 'data';
      this.#sendWindow();
    }
  }

  /** A packet that came from the peer's TID. */
  receive(packet: TftpPacket): void {
    if (this.#state === 'done' || this.#state === 'idle') return;
    switch (packet.type) {
      case 'ack':
        this.#onAck(packet.block);
        return;
      case 'error':
        // Any ERROR ends the transfer and is not answered (RFC 1350 §7); code 8 is the client
        // turning down our OACK (RFC 2347).
        this.#finish({ ok: false, reason: 'peer-error', error: `Client sent ERROR ${packet.code}: ${packet.message}` });
        return;
      default:
        this.#o.send(encodeError(ErrorCode.IllegalOperation, 'Illegal TFTP operation'));
        this.#finish({ ok: false, reason: 'protocol', error: `Cannot continue transfer: client sent ${packet.type.toUpperCase()}` });
    }
  }

  /** An ACK from the peer's TID, read straight off the datagram (the same as `receive` of an ACK packet). */
  receiveAck(wireBlock: number): void {
    if (this.#state === 'done' || this.#state === 'idle') return;
    this.#onAck(wireBlock);
  }

  /** Ends the transfer from outside (server stopping, malformed packet); optionally tells the peer. */
  abort(error: string, notify?: { code: number; message: string }): void {
    if (this.#state === 'done') return;
    if (notify) this.#o.send(encodeError(notify.code, notify.message));
    this.#finish({ ok: false, reason: 'aborted', error });
  }

  #onAck(wireBlock: number): void {
    if (this.#state === 'oack') {
      // RFC 2347: the client confirms the OACK with ACK 0; anything else is a stray.
      if (wireBlock !== 0) return;
      this.#state = 'data';
      this.#heardFrom = true;
      this.#timeouts = 0;
      this.#sendWindow();
      return;
    }
    const outstanding = this.#highestSent - this.#acked;
    const ahead = (wireBlock - this.#acked) & 0xffff;
    // ahead === 0 is a repeat of the previous ACK. Answering it with data is the Sorcerer's
    // Apprentice bug (RFC 1123 §4.2.3.1): every duplicate would double the traffic from then on.
    // Only the timer retransmits. ahead > outstanding is an ACK for a block not sent (or long
    // past): ignored too.
    if (ahead === 0 || ahead > outstanding) return;
    this.#acked += ahead;
    this.#heardFrom = true;
    this.#timeouts = 0;
    if (this.#acked === this.#lastBlock) {
      this.#finish({ ok: true });
      return;
    }
    // An ACK inside the window (RFC 7440 §4: the client lost a block and acknowledges the last
    // one it got in order) restarts the window just after it; an ACK for the window's last block
    // moves on to the next window. Both are: send from acked + 1.
    this.#sendWindow();
  }

  /**
   * Sends the window after the last acknowledged block. When its bytes are already in memory
   * (the usual case: the read ahead keeps a chunk or two ahead of the client) it is sent right
   * here, in the turn that handled the ACK; only a read from the file waits on a promise.
   */
  #sendWindow(): void {
    const generation = ++this.#generation;
    this.#clearTimer();
    const { blksize, windowsize } = this.#o;
    const size = this.#o.source.size;
    const first = this.#acked + 1;
    const last = Math.min(this.#acked + windowsize, this.#lastBlock);
    const start = (first - 1) * blksize;
    const end = Math.min(last * blksize, size);
    const inMemory = this.#reader.peek(start, end - start);
    if (inMemory !== undefined) {
      this.#sendBlocks(first, last, inMemory);
      return;
    }
    this.#reader.read(start, end - start).then(
      (bytes) => {
        if (generation !== this.#generation || this.#state !== 'data') return;
        if (bytes.length !== end - start) {
          // Sending the short read would make a middle block look like the last one.
          this.#failRead(`Cannot read file at offset ${start}: got ${bytes.length} of ${end - start} bytes, file changed?`);
          return;
        }
        this.#sendBlocks(first, last, bytes);
      },
      (e: unknown) => {
        if (generation !== this.#generation) return;
        this.#failRead(`Cannot read file at offset ${start}: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
  }

  #sendBlocks(first: number, last: number, bytes: Buffer): void {
    const { blksize } = this.#o;
    for (let block = first; block <= last; block++) {
      const from = (block - first) * blksize;
      this.#o.send(encodeData(block, bytes.subarray(from, Math.min(from + blksize, bytes.length))));
      if (block > this.#highestSent) this.#highestSent = block;
    }
    this.#armTimer();
  }

  #sendOack(): void {
    this.#o.send(encodeOack(this.#o.oack));
    this.#armTimer();
  }

  #armTimer(): void {
    this.#clearTimer();
    const ms = this.#heardFrom ? this.#o.timeoutMs : Math.min(this.#o.timeoutMs, this.#o.timeoutBeforeFirstAckMs ?? this.#o.timeoutMs);
    this.#timer = this.#timers.setTimeout(() => this.#onTimeout(), ms);
  }

  /** Retransmissions allowed now: few until the client has acknowledged anything. */
  #retryLimit(): number {
    return this.#heardFrom ? this.#o.retries : Math.min(this.#o.retries, this.#o.retriesBeforeFirstAck ?? 1);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #onTimeout(): void {
    this.#timer = undefined;
    if (this.#state !== 'oack' && this.#state !== 'data') return;
    const limit = this.#retryLimit();
    if (++this.#timeouts > limit) {
      this.#o.send(encodeError(ErrorCode.NotDefined, 'Transfer timed out'));
      this.#finish({
        ok: false,
        reason: 'timeout',
        error: this.#heardFrom
          ? `Cannot finish transfer: no ACK after ${limit} retransmissions (acked block ${this.#acked})`
          : `Cannot start transfer: the client acknowledged nothing after ${limit} retransmission${limit === 1 ? '' : 's'}`,
      });
      return;
    }
    this.#retransmits++;
    if (this.#state === 'oack') this.#sendOack();
    else this.#sendWindow();
  }

  #failRead(error: string): void {
    this.#o.send(encodeError(ErrorCode.NotDefined, 'Read error'));
    this.#finish({ ok: false, reason: 'read-error', error });
  }

  #finish(outcome: { ok: true } | { ok: false; reason: TransferFailure; error: string }): void {
    if (this.#state === 'done') return;
    this.#state = 'done';
    this.#generation++;
    this.#clearTimer();
    try {
      this.#o.source.close().catch(() => {});
    } catch {
      // A source that fails to close has nothing left for this transfer to do.
    }
    const bytes = Math.min(this.#acked * this.#o.blksize, this.#o.source.size);
    const durationMs = Math.round(this.#timers.now() - this.#startedAt);
    this.#o.onEnd({ ...outcome, bytes, durationMs, retransmits: this.#retransmits });
  }
}
