import pg from 'pg';
import type { PostgresStateConfig } from '../config/types.js';
import { nullLogger, type Logger } from '../log/logger.js';
import { clientConfig, databaseError } from './connection.js';
import { MIGRATION_LOCK_KEY, MIGRATIONS, newerSchemaError, SCHEMA_VERSION } from './migrations.js';

export interface DatabaseOptions {
  /** Shown in pg_stat_activity: "diskless 10.77.0.1". */
  applicationName?: string;
  /** Connections for queries (default 8); LISTEN holds one more. */
  poolSize?: number;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
}

export type Row = Record<string, unknown>;

/** What runs queries: the pool, or one connection inside a transaction. */
export interface Queryable {
  query<R extends Row = Row>(text: string, values?: unknown[]): Promise<R[]>;
}

type Listener = (payload: string) => void;

/** How long the LISTEN connection waits before it tries again, growing to the cap. */
const RECONNECT_MIN_MS = 200;
const RECONNECT_MAX_MS = 5000;

/**
 * The state database: a pool for queries, one more connection that LISTENs for the changes
 * other servers announce, and the schema brought up to date at open. The LISTEN connection
 * reconnects by itself; after a reconnection every `onResync` hook runs, since changes
 * announced while it was away were missed and each cache must read its table again.
 */
export class Database implements Queryable {
  readonly config: PostgresStateConfig;
  readonly #pool: pg.Pool;
  readonly #clientConfig: pg.ClientConfig;
  readonly #log: Logger;
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #resync = new Set<() => void>();
  #listenClient: pg.Client | undefined;
  #closed = false;
  #reachedAt = Date.now();
  #reconnectDelay = RECONNECT_MIN_MS;
  #reconnectTimer: NodeJS.Timeout | undefined;
  /** Whether the LISTEN connection is up (false while it reconnects). */
  #listening = false;

  private constructor(cfg: PostgresStateConfig, o: DatabaseOptions) {
    this.config = cfg;
    this.#log = (o.logger ?? nullLogger).child({ service: 'database' });
    this.#clientConfig = clientConfig(cfg, o.applicationName ?? 'diskless', o.env);
    this.#pool = new pg.Pool({ ...this.#clientConfig, max: o.poolSize ?? 8, idleTimeoutMillis: 30_000 });
    // An idle connection the server closed (a restart) errors here; the pool drops it and the
    // next query opens a new one. Unhandled, the error would end the process.
    this.#pool.on('error', (e) => this.#log.log('warn', 'database connection lost', { error: e.message }));
  }

  /** Connects, migrates and starts listening; throws DL_DATABASE saying why it cannot. */
  static async open(cfg: PostgresStateConfig, o: DatabaseOptions = {}): Promise<Database> {
    const db = new Database(cfg, o);
    try {
      await db.#migrate();
      await db.#connectListener();
    } catch (e) {
      await db.close();
      throw databaseError(cfg, e);
    }
    return db;
  }

  async query<R extends Row = Row>(text: string, values?: unknown[]): Promise<R[]> {
    const result = await this.#pool.query<R>(text, values);
    this.#reachedAt = Date.now();
    return result.rows;
  }

  /** When a query last succeeded (ms since the epoch; the heartbeat queries every 2 s). */
  get reachedAt(): number {
    return this.#reachedAt;
  }

  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  async transaction<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const q: Queryable = { query: async <R extends Row>(text: string, values?: unknown[]) => (await client.query<R>(text, values)).rows };
      const out = await fn(q);
      await client.query('COMMIT');
      return out;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw e;
    } finally {
      client.release(broken);
    }
  }

  /** Announces `payload` on `channel` to every server listening (at commit). */
  async notify(channel: string, payload: string): Promise<void> {
    await this.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  /**
   * Calls `fn` with each notification on `channel` from now on (read the table after this
   * resolves, so nothing falls between); returns the function that stops it.
   */
  async listen(channel: string, fn: Listener): Promise<() => void> {
    let set = this.#listeners.get(channel);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(channel, set);
      // Down now: the reconnection LISTENs to every channel and resyncs.
      await this.#listenClient?.query(`LISTEN ${pg.escapeIdentifier(channel)}`).catch(() => {});
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  /** `fn` runs after the LISTEN connection came back: notifications may have been missed. */
  onResync(fn: () => void): () => void {
    this.#resync.add(fn);
    return () => this.#resync.delete(fn);
  }

  /** Whether the LISTEN connection is up right now. */
  get listening(): boolean {
    return this.#listening;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    const client = this.#listenClient;
    this.#listenClient = undefined;
    this.#listening = false;
    await client?.end().catch(() => {});
    await this.#pool.end().catch(() => {});
  }

  async #migrate(): Promise<void> {
    const client = new pg.Client(this.#clientConfig);
    client.on('error', () => {});
    await client.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      await client.query(`CREATE TABLE IF NOT EXISTS diskless_schema (
        version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const rows = (await client.query<{ v: number | null }>('SELECT max(version) AS v FROM diskless_schema')).rows;
      const current = rows[0]?.v ?? 0;
      if (current > SCHEMA_VERSION) throw newerSchemaError(this.config.url, current);
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        try {
          await client.query('BEGIN');
          await client.query(m.sql);
          await client.query('INSERT INTO diskless_schema (version, description) VALUES ($1, $2)', [m.version, m.description]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch(() => {});
          throw databaseError(this.config, e, `migrate (step ${m.version}: ${m.description})`);
        }
        this.#log.log('info', 'database schema migrated', { version: m.version, description: m.description });
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
      await client.end().catch(() => {});
    }
  }

  async #connectListener(): Promise<void> {
    const client = new pg.Client(this.#clientConfig);
    client.on('notification', (n) => {
      for (const fn of this.#listeners.get(n.channel) ?? []) {
        try {
          fn(n.payload ?? '');
        } catch (e) {
          this.#log.log('error', 'database notification handler failed', { channel: n.channel, error: String(e) });
        }
      }
    });
    const lost = (why: string) => {
      if (this.#listenClient !== client) return;
      this.#listenClient = undefined;
      this.#listening = false;
      this.#log.log('warn', 'database listen connection lost, reconnecting', { error: why });
      this.#scheduleReconnect();
    };
    client.on('error', (e) => lost(e.message));
    client.on('end', () => lost('connection ended'));
    await client.connect();
    for (const channel of this.#listeners.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#listenClient = client;
    this.#listening = true;
    this.#reconnectDelay = RECONNECT_MIN_MS;
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    const delay = this.#reconnectDelay;
    this.#reconnectDelay = Math.min(RECONNECT_MAX_MS, delay * 2);
    this.#reconnectTimer = setTimeout(() => {
      this.#connectListener().then(
        () => {
          if (this.#closed) return;
          this.#log.log('info', 'database listen connection back');
          for (const fn of this.#resync) {
            try {
              fn();
            } catch (e) {
              this.#log.log('error', 'database resync failed', { error: String(e) });
            }
          }
        },
        () => this.#scheduleReconnect(),
      );
    }, delay);
    this.#reconnectTimer.unref();
  }
}
