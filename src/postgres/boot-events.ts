import type { NewBootEvent } from '../events/boot-event.js';
import { nullLogger, type Logger } from '../log/logger.js';
import type { Database } from './database.js';

export const EVENTS_CHANNEL = 'diskless_events';

export interface PgBootEventsOptions {
  /** This server's address (server.address): its events are stored under it. */
  server: string;
  /** Events kept in the database, newest first; older ones are deleted. Default 200,000. */
  keep?: number;
  /** A server that never read the others' events starts this many back. Default 10,000. */
  backlog?: number;
  /** Events waiting for the database at once (while it is away); more drop the oldest. Default 10,000. */
  maxQueued?: number;
  /** Events read from the database per query. Default 500. */
  pageSize?: number;
  logger?: Logger;
}

type EventRow = {
  id: string;
  server: string;
  event: NewBootEvent;
};

/** Rows of one page, and pages read in a row at most before other work gets a turn. */
const MAX_PAGES_IN_A_ROW = 20;

/**
 * Boot events shared by every boot server: each server adds the events it records to
 * boot_events (in batches, in order; kept while the database is away, up to maxQueued) and
 * hands every other server's to `attach`'s handler, in the order of their ids, so a boot
 * whose DHCP went to one server and whose files came from another is one timeline on both.
 * Where each server stopped reading is kept in boot_event_cursors: a restart resumes there.
 */
export class PgBootEvents {
  readonly #db: Database;
  readonly #server: string;
  readonly #keep: number;
  readonly #backlog: number;
  readonly #maxQueued: number;
  readonly #pageSize: number;
  readonly #log: Logger;
  #queue: NewBootEvent[] = [];
  #sending: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryMs = 0;
  #dropped = 0;
  #lastId: number | undefined;
  #handler: ((e: NewBootEvent) => void) | undefined;
  #reading: Promise<void> | undefined;
  #readAgain = false;
  #readFailing = false;
  #closed = false;
  #unlisten: (() => void) | undefined;
  #unresync: (() => void) | undefined;

  private constructor(db: Database, o: PgBootEventsOptions) {
    this.#db = db;
    this.#server = o.server;
    this.#keep = o.keep ?? 200_000;
    this.#backlog = o.backlog ?? 10_000;
    this.#maxQueued = o.maxQueued ?? 10_000;
    this.#pageSize = o.pageSize ?? 500;
    this.#log = (o.logger ?? nullLogger).child({ service: 'events' });
  }

  /** Starts listening; nothing is read until `attach` names who takes the other servers' events. */
  static async open(db: Database, o: PgBootEventsOptions): Promise<PgBootEvents> {
    const e = new PgBootEvents(db, o);
    e.#unlisten = await db.listen(EVENTS_CHANNEL, () => e.#read());
    e.#unresync = db.onResync(() => {
      e.#read();
      e.#send();
    });
    return e;
  }

  /**
   * From now on `handler` gets every other server's event, first those recorded since this
   * server last read (or the newest `backlog` when it never did). Resolves once that backlog is read.
   */
  async attach(handler: (e: NewBootEvent) => void): Promise<void> {
    this.#handler = handler;
    this.#read();
    await this.#reading;
  }

  /** Adds one of this server's events; it reaches the database in order, batched with others. */
  publish(event: NewBootEvent): void {
    if (this.#closed) return;
    this.#queue.push(event);
    if (this.#queue.length > this.#maxQueued) {
      this.#queue.splice(0, this.#queue.length - this.#maxQueued);
      if (this.#dropped++ === 0) this.#log.log('warn', 'boot events dropped: the database has been away too long', { kept: this.#maxQueued });
    }
    if (this.#retryTimer === undefined) this.#send();
  }

  /** Waits until every event published so far was stored (or given up on at close), and the last read finished. */
  async flush(): Promise<void> {
    while (this.#sending !== undefined || this.#reading !== undefined) {
      await this.#sending;
      await this.#reading;
    }
  }

  /** Stops listening; tries once more to store what is queued. */
  async close(): Promise<void> {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#unlisten?.();
    this.#unresync?.();
    if (this.#queue.length > 0) this.#send();
    await this.#sending?.catch(() => {});
    this.#closed = true;
    await this.#reading?.catch(() => {});
  }

  #send(): void {
    if (this.#sending !== undefined || this.#queue.length === 0) return;
    this.#sending = this.#sendAll().finally(() => {
      this.#sending = undefined;
    });
  }

  async #sendAll(): Promise<void> {
    while (this.#queue.length > 0 && !this.#closed) {
      const batch = this.#queue.slice(0, 256);
      try {
        await this.#db.query('SELECT diskless_events_add($1, $2::jsonb, $3)', [this.#server, JSON.stringify(batch), this.#keep]);
      } catch (e) {
        // Kept in order and sent again; the database's return is also heard (onResync).
        this.#retryMs = Math.min(5000, Math.max(250, this.#retryMs * 2));
        if (this.#retryMs === 250) this.#log.log('warn', 'boot events wait for the database', { queued: this.#queue.length, error: String(e) });
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          this.#send();
        }, this.#retryMs);
        this.#retryTimer.unref();
        return;
      }
      // The queue may have dropped its oldest meanwhile: remove exactly what was sent.
      const sent = this.#queue.indexOf(batch[batch.length - 1]!);
      this.#queue.splice(0, sent + 1);
      if (this.#retryMs > 0) this.#log.log('info', 'boot events reach the database again', { dropped: this.#dropped });
      this.#retryMs = 0;
      this.#dropped = 0;
    }
  }

  #read(): void {
    if (this.#handler === undefined || this.#closed) return;
    if (this.#reading !== undefined) {
      this.#readAgain = true;
      return;
    }
    this.#reading = this.#readAll().finally(() => {
      this.#reading = undefined;
      if (this.#readAgain) {
        this.#readAgain = false;
        this.#read();
      }
    });
  }

  async #readAll(): Promise<void> {
    try {
      if (this.#lastId === undefined) this.#lastId = await this.#startingPoint();
      let pages = 0;
      for (;;) {
        const rows: EventRow[] = await this.#db.query<EventRow>(
          'SELECT id, server, event FROM boot_events WHERE id > $1 ORDER BY id LIMIT $2', [this.#lastId, this.#pageSize]);
        for (const r of rows) {
          this.#lastId = Number(r.id);
          if (r.server === this.#server || this.#closed) continue;
          try {
            this.#handler?.({ ...r.event, fields: { ...r.event.fields, server: r.server } });
          } catch (e) {
            this.#log.log('error', "cannot take another server's boot event", { error: String(e) });
          }
        }
        if (rows.length > 0) {
          await this.#db.query(
            `INSERT INTO boot_event_cursors (server, last_id) VALUES ($1, $2)
             ON CONFLICT (server) DO UPDATE SET last_id = GREATEST(boot_event_cursors.last_id, EXCLUDED.last_id)`, [this.#server, this.#lastId]);
        }
        if (rows.length < this.#pageSize) break;
        if (++pages >= MAX_PAGES_IN_A_ROW) {
          this.#readAgain = true;
          break;
        }
      }
      if (this.#readFailing) this.#log.log('info', "other servers' boot events are read again");
      this.#readFailing = false;
    } catch (e) {
      // The next notification or the reconnection's resync reads again.
      if (!this.#readFailing) this.#log.log('warn', "cannot read other servers' boot events", { error: String(e) });
      this.#readFailing = true;
    }
  }

  async #startingPoint(): Promise<number> {
    const [cursor] = await this.#db.query<{ last_id: string }>('SELECT last_id FROM boot_event_cursors WHERE server = $1', [this.#server]);
    if (cursor !== undefined) return Number(cursor.last_id);
    const [newest] = await this.#db.query<{ id: string | null }>('SELECT max(id) AS id FROM boot_events');
    return Math.max(0, Number(newest?.id ?? 0) - this.#backlog);
  }
}
