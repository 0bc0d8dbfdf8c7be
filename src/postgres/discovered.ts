import { DEFAULT_MAX_DISCOVERED, notInInventory, recordSighting, type DiscoveredMachine, type DiscoveredSource, type Sighting } from '../inventory/discovered.js';
import { nullLogger, type Logger } from '../log/logger.js';
import type { Database, Queryable } from './database.js';
import { TableMirror } from './mirror.js';

export const DISCOVERED_CHANNEL = 'diskless_discovered';

/** What one server saw of a machine since its last write: merged into the row by the database. */
interface Delta {
  mac: string;
  first: string;
  last: string;
  count: number;
  vendorClass?: string;
  arch?: string;
  userClass?: string;
  ip?: string;
}

/**
 * Machines not in the inventory that asked any boot server for an address or a boot script:
 * each server answers from a copy in memory, sends what it saw at most once a second (the
 * database adds the counts, keeps the earliest first sighting and the latest of the rest, and
 * the newest `max` machines), and reads the table again when another server announces a write.
 */
export class PgDiscovered implements DiscoveredSource {
  readonly #db: Database;
  readonly #now: () => number;
  readonly #max: number;
  readonly #writeMs: number;
  readonly #log: Logger;
  #mirror!: TableMirror<DiscoveredMachine>;
  #deltas = new Map<string, Delta>();
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;

  private constructor(db: Database, o: { now?: () => number; maxEntries?: number; writeIntervalMs?: number; logger?: Logger }) {
    this.#db = db;
    this.#now = o.now ?? Date.now;
    this.#max = o.maxEntries ?? DEFAULT_MAX_DISCOVERED;
    this.#writeMs = o.writeIntervalMs ?? 1000;
    this.#log = (o.logger ?? nullLogger).child({ service: 'discovered' });
  }

  static async open(db: Database, o: { now?: () => number; maxEntries?: number; writeIntervalMs?: number; logger?: Logger } = {}): Promise<PgDiscovered> {
    const d = new PgDiscovered(db, o);
    // Each announcement (a batch of rows) reads the table again.
    d.#mirror = await TableMirror.open<DiscoveredMachine>(db, {
      channel: DISCOVERED_CHANNEL,
      what: 'discovered machines',
      log: d.#log,
      read: () => readDiscoveredRows(db),
      // What this server saw and has not written yet stays on top of what the table says.
      merge: (read, current) => {
        for (const delta of d.#deltas.values()) {
          const m = read.get(delta.mac) ?? current.get(delta.mac);
          if (m !== undefined) read.set(delta.mac, m);
        }
      },
    });
    return d;
  }

  get #machines(): Map<string, DiscoveredMachine> {
    return this.#mirror.rows;
  }

  record(s: Sighting): void {
    const at = new Date(this.#now()).toISOString();
    recordSighting(this.#machines, s, at, this.#max);
    const d = this.#deltas.get(s.mac) ?? { mac: s.mac, first: at, last: at, count: 0 };
    d.last = at;
    d.count += 1;
    if (s.vendorClass !== undefined) d.vendorClass = s.vendorClass;
    if (s.arch !== undefined) d.arch = s.arch;
    if (s.userClass !== undefined) d.userClass = s.userClass;
    if (s.ip !== undefined) d.ip = s.ip;
    this.#deltas.set(s.mac, d);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.#write();
    }, this.#writeMs);
    this.#timer.unref?.();
  }

  has(mac: string): boolean {
    return this.#machines.has(mac);
  }

  list(isNode: (mac: string) => boolean = () => false): DiscoveredMachine[] {
    return notInInventory([...this.#machines.values()].map((m) => ({ ...m })), isNode);
  }

  /** Writes what was seen and not written yet. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#writing;
    await this.#write();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.#mirror.detach();
  }

  #write(): Promise<void> {
    if (this.#writing !== undefined || this.#deltas.size === 0) return this.#writing ?? Promise.resolve();
    const deltas = [...this.#deltas.values()];
    this.#deltas = new Map();
    this.#writing = this.#db.query(
      `WITH d AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(mac text, first timestamptz, last timestamptz, count bigint,
                    "vendorClass" text, arch text, "userClass" text, ip text)),
       up AS (INSERT INTO discovered_machines AS m (mac, first_seen, last_seen, count, vendor_class, arch, user_class, last_ip)
              SELECT mac, first, last, count, "vendorClass", arch, "userClass", ip FROM d
              ON CONFLICT (mac) DO UPDATE SET first_seen = LEAST(m.first_seen, EXCLUDED.first_seen),
                last_seen = GREATEST(m.last_seen, EXCLUDED.last_seen), count = m.count + EXCLUDED.count,
                vendor_class = COALESCE(EXCLUDED.vendor_class, m.vendor_class), arch = COALESCE(EXCLUDED.arch, m.arch),
                user_class = COALESCE(EXCLUDED.user_class, m.user_class), last_ip = COALESCE(EXCLUDED.last_ip, m.last_ip)
              RETURNING 1),
       trim AS (DELETE FROM discovered_machines WHERE mac IN (
                SELECT mac FROM discovered_machines ORDER BY last_seen DESC OFFSET $2) RETURNING 1)
       SELECT pg_notify($3, (SELECT count(*) FROM up)::text)`,
      [JSON.stringify(deltas), this.#max, DISCOVERED_CHANNEL],
    ).then(() => {}, (e: unknown) => {
      // Kept for the next write: the counts add up once the database is back.
      for (const d of deltas) {
        const newer = this.#deltas.get(d.mac);
        this.#deltas.set(d.mac, newer === undefined ? d : { ...d, ...newer, first: d.first, count: d.count + newer.count });
      }
      this.#log.log('warn', 'discovered machines not saved in the database yet', { error: String(e) });
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        void this.#write();
      }, Math.max(this.#writeMs, 2000));
      this.#timer.unref?.();
    }).finally(() => {
      this.#writing = undefined;
    });
    return this.#writing;
  }

}

/** Every machine in discovered_machines, oldest sighting first (the `diskless node discovered` view too). */
export async function readDiscoveredRows(db: Queryable): Promise<Map<string, DiscoveredMachine>> {
  const rows = await db.query<{ mac: string; first_seen: Date; last_seen: Date; count: string; vendor_class: string | null; arch: string | null; user_class: string | null; last_ip: string | null }>(
    'SELECT mac, first_seen, last_seen, count, vendor_class, arch, user_class, last_ip FROM discovered_machines ORDER BY last_seen, mac');
  return new Map(rows.map((r) => [r.mac, {
    mac: r.mac, firstSeen: r.first_seen.toISOString(), lastSeen: r.last_seen.toISOString(), count: Number(r.count),
    ...(r.vendor_class === null ? {} : { vendorClass: r.vendor_class }),
    ...(r.arch === null ? {} : { arch: r.arch }),
    ...(r.user_class === null ? {} : { userClass: r.user_class }),
    ...(r.last_ip === null ? {} : { lastIp: r.last_ip }),
  }]));
}
