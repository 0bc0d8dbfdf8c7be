import type { BootEvent, NewBootEvent } from './boot-event.js';
import { SegmentLog, type SegmentLogOptions } from './segment-log.js';

export interface EventQuery {
  /** Only this machine's events (lower-case colon MAC). */
  mac?: string;
  /** Only events after this seq (exclusive): the cursor for paging forward and for resuming a stream. */
  afterSeq?: number;
  /** Only events at or after this time (ms since the epoch). */
  sinceTime?: number;
  /** Default 100, at most 1000. With a cursor (afterSeq/sinceTime) the oldest matches, else the newest. */
  limit?: number;
}

export type EventListener = (event: BootEvent) => void;

export const MAX_QUERY_LIMIT = 1000;

/**
 * Boot events on disk (STATE/events, see segment-log.ts) with an in-memory index rebuilt at
 * open: all retained events in seq order plus each machine's own list. The index holds exactly
 * what the disk holds, so memory is bounded by the same rotation that bounds the disk.
 */
export class EventStore {
  readonly #log: SegmentLog<BootEvent>;
  readonly #all: BootEvent[];
  readonly #byMac = new Map<string, BootEvent[]>();
  readonly #listeners = new Set<EventListener>();
  readonly #onListenerError: (e: unknown) => void;
  #nextSeq: number;
  /** Lines skipped at open (a torn last line after a crash, garbage). */
  readonly skippedAtOpen: number;

  private constructor(log: SegmentLog<BootEvent>, events: BootEvent[], skipped: number, onListenerError: (e: unknown) => void) {
    this.#log = log;
    this.#all = events;
    for (const e of events) this.#indexMac(e);
    this.#nextSeq = (events[events.length - 1]?.seq ?? 0) + 1;
    this.skippedAtOpen = skipped;
    this.#onListenerError = onListenerError;
  }

  static open(opts: SegmentLogOptions & { onListenerError?: (e: unknown) => void }): EventStore {
    const { log, records, skipped } = SegmentLog.open<BootEvent>(opts);
    return new EventStore(log, records, skipped, opts.onListenerError ?? (() => {}));
  }

  /** Numbers, writes, indexes and announces one event; returns it as stored. */
  append(input: NewBootEvent): BootEvent {
    const event: BootEvent = { seq: this.#nextSeq++, ...input };
    this.#log.append(event);
    this.#all.push(event);
    this.#indexMac(event);
    this.#prune();
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (e) {
        // A broken follower (a closed SSE socket) must not stop recording.
        this.#onListenerError(e);
      }
    }
    return event;
  }

  /** Called with every event appended from now on; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get lastSeq(): number {
    return this.#nextSeq - 1;
  }

  get size(): number {
    return this.#all.length;
  }

  /** Every retained event, oldest first (for replaying into reducers at start). */
  all(): readonly BootEvent[] {
    return this.#all;
  }

  macs(): string[] {
    return [...this.#byMac.keys()];
  }

  query(q: EventQuery = {}): BootEvent[] {
    const limit = Math.max(1, Math.min(MAX_QUERY_LIMIT, Math.floor(q.limit ?? 100)));
    const list = q.mac === undefined ? this.#all : (this.#byMac.get(q.mac) ?? []);
    let from = q.afterSeq === undefined ? 0 : firstAfter(list, q.afterSeq);
    // Times follow seq except when the clock is set back, so time is filtered, not searched.
    const matches = q.sinceTime === undefined ? list.slice(from) : list.slice(from).filter((e) => e.time >= q.sinceTime!);
    if (q.afterSeq !== undefined || q.sinceTime !== undefined) return matches.slice(0, limit);
    from = Math.max(0, matches.length - limit);
    return matches.slice(from);
  }

  sync(): void {
    this.#log.sync();
  }

  close(): void {
    this.#listeners.clear();
    this.#log.close();
  }

  #indexMac(e: BootEvent): void {
    if (!e.mac) return;
    let list = this.#byMac.get(e.mac);
    if (!list) this.#byMac.set(e.mac, (list = []));
    list.push(e);
  }

  /** Drops from memory what rotation deleted from disk. */
  #prune(): void {
    const oldest = this.#log.oldestSeq;
    if (oldest === undefined || (this.#all[0]?.seq ?? oldest) >= oldest) return;
    this.#all.splice(0, firstAfter(this.#all, oldest - 1));
    for (const [mac, list] of this.#byMac) {
      list.splice(0, firstAfter(list, oldest - 1));
      if (!list.length) this.#byMac.delete(mac);
    }
  }
}

/** Index of the first event with seq > `seq` in a seq-sorted list. */
function firstAfter(list: readonly BootEvent[], seq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
