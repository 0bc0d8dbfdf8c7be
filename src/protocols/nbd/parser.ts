import { ByteQueue } from './byte-queue.js';
import {
  CLIENT_FLAGS_BYTES,
  Command,
  MAX_OPTION_DATA_BYTES,
  MAX_PAYLOAD_BYTES,
  OPTION_HEADER_BYTES,
  REQUEST_BYTES,
} from './constants.js';
import { decodeClientFlags } from './greeting.js';
import { decodeOptionHeader, type OptionHeader } from './option-request.js';
import { decodeRequest, type NbdRequest } from './transmission.js';

/** One complete client message, in wire order. */
export type ClientMessage =
  | { readonly type: 'client-flags'; readonly flags: number }
  | { readonly type: 'option'; readonly option: number; readonly data: Buffer }
  /** The option data was not read (it may be gigabytes): the connection cannot continue. */
  | { readonly type: 'option-too-big'; readonly option: number; readonly length: number }
  /** A WRITE is returned once its payload has gone by; the payload itself is dropped. */
  | { readonly type: 'request'; readonly request: NbdRequest }
  /** The stream is out of sync or hostile; nothing more will be parsed. */
  | { readonly type: 'error'; readonly error: string };

export interface ParserLimits {
  /** Default MAX_OPTION_DATA_BYTES (64 KiB). */
  readonly maxOptionData?: number;
  /** Largest WRITE payload skipped to stay in sync. Default MAX_PAYLOAD_BYTES (32 MiB). */
  readonly maxPayload?: number;
}

type State =
  | { readonly at: 'client-flags' }
  | { readonly at: 'option-header' }
  | { readonly at: 'option-data'; readonly header: OptionHeader }
  | { readonly at: 'request' }
  | { readonly at: 'write-payload'; readonly request: NbdRequest; left: number }
  | { readonly at: 'failed' };

/**
 * Turns the client's byte stream into messages, fed chunks split anywhere. It is pulled, not
 * pushed: `next()` parses at most one message, so the connection decides when to read on.
 * That matters after NBD_OPT_GO, where the bytes that follow are requests only if the export
 * was accepted, and the connection calls `startTransmission()` before pulling again.
 */
export class NbdParser {
  readonly #queue = new ByteQueue();
  readonly #maxOptionData: number;
  readonly #maxPayload: number;
  #state: State = { at: 'client-flags' };

  constructor(limits: ParserLimits = {}) {
    this.#maxOptionData = limits.maxOptionData ?? MAX_OPTION_DATA_BYTES;
    this.#maxPayload = limits.maxPayload ?? MAX_PAYLOAD_BYTES;
  }

  /** Bytes received and not yet parsed (the connection pauses its socket when this grows). */
  get buffered(): number { return this.#queue.length; }

  push(chunk: Buffer): void {
    if (this.#state.at !== 'failed') this.#queue.push(chunk);
  }

  /** From now on the bytes are transmission requests (after a successful GO or EXPORT_NAME). */
  startTransmission(): void {
    if (this.#state.at !== 'option-header') throw new Error(`Cannot start transmission: parser is at ${this.#state.at}`);
    this.#state = { at: 'request' };
  }

  /** The next complete message, or undefined until more bytes arrive. */
  next(): ClientMessage | undefined {
    const state = this.#state;
    const q = this.#queue;
    switch (state.at) {
      case 'client-flags': {
        if (q.length < CLIENT_FLAGS_BYTES) return undefined;
        const flags = decodeClientFlags(q.consume(CLIENT_FLAGS_BYTES));
        if (!flags.ok) return this.#fail(flags.error);
        this.#state = { at: 'option-header' };
        return { type: 'client-flags', flags: flags.value };
      }
      case 'option-header': {
        if (q.length < OPTION_HEADER_BYTES) return undefined;
        const header = decodeOptionHeader(q.consume(OPTION_HEADER_BYTES));
        if (!header.ok) return this.#fail(header.error);
        const { option, length } = header.value;
        if (length > this.#maxOptionData) {
          this.#fail('option too big');
          return { type: 'option-too-big', option, length };
        }
        this.#state = { at: 'option-data', header: header.value };
        return this.next();
      }
      case 'option-data': {
        // Only bytes that actually arrived are ever buffered; `length` was capped above.
        if (q.length < state.header.length) return undefined;
        this.#state = { at: 'option-header' };
        return { type: 'option', option: state.header.option, data: q.consume(state.header.length) };
      }
      case 'request': {
        if (q.length < REQUEST_BYTES) return undefined;
        const decoded = decodeRequest(q.consume(REQUEST_BYTES));
        if (!decoded.ok) return this.#fail(decoded.error);
        const request = decoded.value;
        // Only WRITE carries a payload without extended headers, and it must be read past
        // even when the answer is EPERM, or its bytes would be parsed as requests.
        if (request.command !== Command.WRITE || request.length === 0) return { type: 'request', request };
        if (request.length > this.#maxPayload) {
          // The client broke a MUST (payload above the maximum block size); the spec lets the
          // server hard-disconnect rather than read up to 4 GiB it will throw away.
          return this.#fail(`Cannot skip WRITE payload: ${request.length} bytes exceeds ${this.#maxPayload}`);
        }
        this.#state = { at: 'write-payload', request, left: request.length };
        return this.next();
      }
      case 'write-payload': {
        state.left -= q.discard(state.left);
        if (state.left > 0) return undefined;
        this.#state = { at: 'request' };
        return { type: 'request', request: state.request };
      }
      case 'failed':
        return undefined;
    }
  }

  #fail(error: string): ClientMessage {
    this.#state = { at: 'failed' };
    this.#queue.discard(this.#queue.length);
    return { type: 'error', error };
  }
}
