import type { Logger } from '../log/logger.js';
import type { Database } from './database.js';

export interface MirrorOptions<V> {
  /** The NOTIFY channel each change of the table is announced on. */
  channel: string;
  /** What the rows are, for the log ("version pins"). */
  what: string;
  log: Logger;
  /** The whole table, keyed. */
  read(): Promise<Map<string, V>>;
  /**
   * Applies one announcement to the copy. Without it, each announcement reads the whole table
   * again (announcements that name no row, or a table small enough to reread).
   */
  apply?(payload: string, rows: Map<string, V>): void;
  /** Puts what this server holds and has not written yet on top of a table just read. */
  merge?(read: Map<string, V>, current: ReadonlyMap<string, V>): void;
}

/**
 * A table of the state database kept as a copy in memory by every server, so that readers get
 * it synchronously and keep reading it while the database is away: read whole at open, changed
 * by each announcement on its channel, and read whole again after every reconnection (what was
 * announced while the listening connection was down is lost). Reads are coalesced: a reason to
 * read again that comes during a read starts one more read after it, never loses the change.
 */
export class TableMirror<V> {
  readonly #db: Database;
  readonly #o: MirrorOptions<V>;
  #rows: Map<string, V>;
  #reading: Promise<void> | undefined;
  #again = false;
  #unlisten: (() => void) | undefined;
  #unresync: (() => void) | undefined;

  private constructor(db: Database, o: MirrorOptions<V>, rows: Map<string, V>) {
    this.#db = db;
    this.#o = o;
    this.#rows = rows;
  }

  static async open<V>(db: Database, o: MirrorOptions<V>): Promise<TableMirror<V>> {
    const m = new TableMirror(db, o, new Map<string, V>());
    m.#unlisten = await db.listen(o.channel, (payload) => m.#heard(payload));
    m.#unresync = db.onResync(() => void m.reload());
    m.#rows = await o.read();
    return m;
  }

  /** The copy (replaced by each whole read: take it anew for each use). */
  get rows(): Map<string, V> {
    return this.#rows;
  }

  /** Reads the whole table again (after the read under way, if one is); failures are logged. */
  reload(): Promise<void> {
    if (this.#reading !== undefined) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      do {
        this.#again = false;
        try {
          const read = await this.#o.read();
          this.#o.merge?.(read, this.#rows);
          this.#rows = read;
        } catch (e) {
          this.#o.log.log('warn', `${this.#o.what} not reread`, { error: String(e) });
        }
      } while (this.#again);
    })().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  /** Stops listening; waits for a read under way. */
  async detach(): Promise<void> {
    this.#unlisten?.();
    this.#unresync?.();
    await this.#reading;
  }

  #heard(payload: string): void {
    // A read under way may have begun before this change: it reads once more.
    if (this.#reading !== undefined) this.#again = true;
    if (this.#o.apply === undefined) {
      void this.reload();
      return;
    }
    try {
      this.#o.apply(payload, this.#rows);
    } catch (e) {
      this.#o.log.log('warn', `${this.#o.what}: announcement not applied`, { error: String(e) });
    }
  }
}
