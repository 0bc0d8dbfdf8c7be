import { hostname } from 'node:os';
import { nullLogger, type Logger } from '../log/logger.js';
import type { Database, Queryable } from './database.js';

/** One boot server as the database knows it. */
export interface ServerRecord {
  /** Its DHCP server identifier and boot address (server.address). */
  address: string;
  /** Every address it answers DHCP as: address first, then its subnets' server_address. */
  addresses: string[];
  name: string;
  bootUrl: string;
  startedAt: string;
  heartbeatAt: string;
  /** Live: heartbeats arrive; gone: stopped cleanly, or silent longer than goneAfterMs. */
  health: 'live' | 'gone';
  stoppedAt?: string;
}

export interface ServerRegistryOptions {
  address: string;
  /**
   * Every address the server answers DHCP as (server.address and each subnet's
   * server_address; clients name one of them in option 54). Default: just `address`.
   */
  addresses?: readonly string[];
  bootUrl: string;
  name?: string;
  /** Its TLS certificate (PEM), which the initrds built by any server carry. */
  tlsCert?: string;
  /** How often this server says it is alive (and reads the others). Default 2 s. */
  heartbeatMs?: number;
  /** A server silent this long is gone. Default 10 s: a few missed heartbeats, not one slow one. */
  goneAfterMs?: number;
  logger?: Logger;
}

/**
 * The boot servers sharing one database, and whether each is alive: every server writes its
 * heartbeat into diskless_servers and reads everyone's at the same pace. Ages are measured by
 * the database's clock, so servers whose clocks disagree still agree on who is gone. While the
 * database cannot be reached the last reading stands: a server that cannot see the others
 * does not declare them dead.
 */
export class ServerRegistry {
  readonly #db: Database;
  readonly #o: Required<Omit<ServerRegistryOptions, 'logger' | 'tlsCert' | 'addresses'>>;
  readonly #addresses: string[];
  readonly #tlsCert: string | null;
  readonly #log: Logger;
  #servers = new Map<string, ServerRecord>();
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #failing = false;

  private constructor(db: Database, o: ServerRegistryOptions) {
    this.#db = db;
    this.#o = { name: o.name ?? hostname(), heartbeatMs: o.heartbeatMs ?? 2000, goneAfterMs: o.goneAfterMs ?? 10_000, address: o.address, bootUrl: o.bootUrl };
    this.#log = (o.logger ?? nullLogger).child({ service: 'servers' });
    this.#tlsCert = o.tlsCert ?? null;
    this.#addresses = [...new Set([o.address, ...(o.addresses ?? [])])];
  }

  /** Registers this server (live from now) and starts its heartbeat. */
  static async start(db: Database, o: ServerRegistryOptions): Promise<ServerRegistry> {
    const r = new ServerRegistry(db, o);
    await db.query(
      `INSERT INTO diskless_servers (address, name, boot_url, tls_cert, addresses) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (address) DO UPDATE SET name = EXCLUDED.name, boot_url = EXCLUDED.boot_url, addresses = EXCLUDED.addresses,
         tls_cert = COALESCE(EXCLUDED.tls_cert, diskless_servers.tls_cert),
         started_at = now(), heartbeat_at = now(), stopped_at = NULL`,
      [r.#o.address, r.#o.name, r.#o.bootUrl, r.#tlsCert, r.#addresses]);
    await r.#read();
    r.#schedule();
    return r;
  }

  /**
   * The server answering DHCP as `address` (its server.address or one of its subnets'
   * server_address) is gone; false for any address of ours and for addresses we do not know.
   */
  isGone(address: string): boolean {
    if (this.#addresses.includes(address)) return false;
    const owner = this.#servers.get(address) ?? [...this.#servers.values()].find((s) => s.addresses.includes(address));
    return owner?.health === 'gone';
  }

  /** Every server the database knows, this one included, by address. */
  list(): ServerRecord[] {
    return [...this.#servers.values()].sort((a, b) => a.address.localeCompare(b.address));
  }

  /** Beats and reads once now (tests; the timer does it on its own). */
  async beat(): Promise<void> {
    this.#beating ??= this.#beatOnce().finally(() => {
      this.#beating = undefined;
    });
    await this.#beating;
  }

  /** Stops the heartbeat and says so in the database, so peers take over at once. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#beating?.catch(() => {});
    await this.#db.query('UPDATE diskless_servers SET stopped_at = now() WHERE address = $1', [this.#o.address]).catch((e: unknown) => {
      this.#log.log('warn', 'cannot mark this server stopped in the database', { error: String(e) });
    });
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      void this.beat().finally(() => {
        if (this.#timer !== undefined) this.#schedule();
      });
    }, this.#o.heartbeatMs);
    this.#timer.unref();
  }

  async #beatOnce(): Promise<void> {
    try {
      await this.#db.query('UPDATE diskless_servers SET heartbeat_at = now(), stopped_at = NULL WHERE address = $1', [this.#o.address]);
      await this.#read();
      if (this.#failing) this.#log.log('info', 'heartbeat reaches the database again');
      this.#failing = false;
    } catch (e) {
      if (!this.#failing) this.#log.log('error', 'heartbeat cannot reach the database', { error: String(e) });
      this.#failing = true;
    }
  }

  async #read(): Promise<void> {
    const rows = await this.#db.query<{ address: string; addresses: string[]; name: string; boot_url: string; started_at: Date; heartbeat_at: Date; stopped_at: Date | null; age_ms: number }>(
      `SELECT address, addresses, name, boot_url, started_at, heartbeat_at, stopped_at,
              (extract(epoch FROM now() - heartbeat_at) * 1000)::float8 AS age_ms
         FROM diskless_servers`);
    const next = new Map<string, ServerRecord>();
    for (const r of rows) {
      const gone = r.stopped_at !== null || r.age_ms > this.#o.goneAfterMs;
      next.set(r.address, {
        address: r.address,
        addresses: r.addresses.includes(r.address) ? r.addresses : [r.address, ...r.addresses],
        name: r.name,
        bootUrl: r.boot_url,
        startedAt: r.started_at.toISOString(),
        heartbeatAt: r.heartbeat_at.toISOString(),
        health: gone ? 'gone' : 'live',
        ...(r.stopped_at ? { stoppedAt: r.stopped_at.toISOString() } : {}),
      });
    }
    this.#servers = next;
  }
}

/**
 * The TLS certificates (PEM) of every boot server that ever started on this database, in
 * address order: what a node's initrd carries so that it hands its secrets token to any of
 * them and to nothing else. A server added later is trusted by initrds built after it started.
 */
export async function serverCertificates(db: Queryable): Promise<string[]> {
  const rows = await db.query<{ tls_cert: string }>('SELECT tls_cert FROM diskless_servers WHERE tls_cert IS NOT NULL ORDER BY address');
  return rows.map((r) => r.tls_cert);
}
