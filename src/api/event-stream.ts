import type { ServerResponse } from 'node:http';
import type { BootEvent } from '../events/boot-event.js';
import type { EventStore } from '../events/event-store.js';
import { DEFAULT_MAX_EVENT_STREAMS } from '../config/defaults.js';

/** Event streams open at once unless api.max_event_streams says otherwise: dashboards and `events --follow` of a site. */
/** A live client this far behind is dropped; it resumes with Last-Event-ID when it reads again. */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
/** A client that has taken nothing for this long while data waits for it is dropped. */
export const DEFAULT_STALL_MS = 60_000;

/**
 * The open event streams, against a cap. One object per cap: listeners that should share a
 * cap share the object.
 */
export class EventStreamSlots {
  #open = 0;

  constructor(readonly max: number = DEFAULT_MAX_EVENT_STREAMS) {}

  get open(): number {
    return this.#open;
  }

  /** A slot, or undefined when all are taken; the returned function gives it back (once). */
  take(): (() => void) | undefined {
    if (this.#open >= this.max) return undefined;
    this.#open += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open -= 1;
    };
  }
}

export interface StreamLimits {
  /** Unsent bytes a live client may have queued before it is dropped. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** How long data may wait unread before the client is dropped. Default 60 s. */
  stallMs?: number;
}

export interface StreamOptions extends StreamLimits {
  /** Resume after this seq (Last-Event-ID, or ?since=); undefined starts with live events only. */
  afterSeq: number | undefined;
  mac: string | undefined;
  heartbeatMs: number;
  /** Told why a client was dropped (it was not reading). */
  onDrop?: (why: string) => void;
  now?: () => number;
}

const REPLAY_PAGE = 1000;

/**
 * Server-Sent Events: each event as `id: SEQ` + `data: JSON`, so a reconnecting EventSource
 * sends Last-Event-ID and gets exactly what it missed (from what the store still holds), then
 * live events. A comment line every heartbeatMs keeps proxies from timing out.
 *
 * Memory per client stays bounded whatever the client does: the replay is read from the store
 * a page at a time and waits for `drain` whenever the socket is full, so a client that does not
 * read holds one socket buffer, not the whole log. Live events that arrive during the replay
 * are not queued: the replay goes on reading the store until it is caught up, and only then
 * (in the same turn, so nothing falls in between) switches to live events, skipping seqs already
 * sent. A live client whose unsent data passes maxBufferedBytes, or whose socket takes nothing
 * for stallMs, is dropped; it resumes from its Last-Event-ID when it comes back.
 *
 * Resolves when the replay is done (or the client gone); the stream goes on until the client closes it.
 */
export async function streamEvents(res: ServerResponse, events: Pick<EventStore, 'query' | 'subscribe' | 'lastSeq'>, opts: StreamOptions): Promise<void> {
  const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const stallMs = opts.stallMs ?? DEFAULT_STALL_MS;
  const now = opts.now ?? Date.now;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let lastSent = opts.afterSeq ?? events.lastSeq;
  let live = false;
  let closed = false;
  /** Since when written data waits for a drain; undefined while the socket takes everything. */
  let fullSince: number | undefined;

  const write = (text: string) => {
    if (!res.write(text)) fullSince ??= now();
  };
  const drop = (why: string) => {
    if (closed) return;
    opts.onDrop?.(why);
    res.destroy();
  };
  const send = (e: BootEvent) => {
    if (e.seq <= lastSent || (opts.mac !== undefined && e.mac !== opts.mac)) return;
    lastSent = e.seq;
    write(`id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`);
  };
  const unsubscribe = events.subscribe((e) => {
    if (!live || closed) return;
    send(e);
    if (res.writableLength > maxBuffered) drop(`more than ${maxBuffered} bytes unsent`);
  });
  const heartbeat = setInterval(() => {
    if (fullSince !== undefined && now() - fullSince > stallMs) drop(`nothing read for ${stallMs} ms`);
    else write(': heartbeat\n\n');
  }, opts.heartbeatMs);
  res.on('drain', () => (fullSince = undefined));
  res.once('close', () => {
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
  });
  res.on('error', () => res.destroy());

  write('retry: 3000\n\n');
  if (opts.afterSeq !== undefined) {
    for (;;) {
      const page = events.query({ afterSeq: lastSent, limit: REPLAY_PAGE, ...(opts.mac === undefined ? {} : { mac: opts.mac }) });
      if (!page.length) break;
      for (const e of page) {
        if (closed) return;
        send(e);
        if (fullSince !== undefined && !(await drained(res))) return;
      }
    }
  }
  live = !closed;
}

/** Waits until the response can take more (true) or is gone (false). */
function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
