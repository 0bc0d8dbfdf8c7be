import { runnersOf, type RunningRecord, type RunningVersionStore } from '../images/store/running-versions.js';
import { nullLogger, type Logger } from '../log/logger.js';
import type { Database } from './database.js';
import { TableMirror } from './mirror.js';

export const RUNNING_CHANNEL = 'diskless_running_versions';

/**
 * Which stored version each node was last handed, by whichever boot server handed it: a copy in
 * memory (the API and `image rm` read it synchronously), each record written to running_versions
 * and announced, the copy read again whole after a reconnection.
 */
export class PgRunningVersions implements RunningVersionStore {
  readonly #db: Database;
  readonly #mirror: TableMirror<RunningRecord>;
  readonly #now: () => Date;

  private constructor(db: Database, mirror: TableMirror<RunningRecord>, now: () => Date) {
    this.#db = db;
    this.#mirror = mirror;
    this.#now = now;
  }

  static async open(db: Database, o: { now?: () => Date; logger?: Logger } = {}): Promise<PgRunningVersions> {
    const mirror = await TableMirror.open<RunningRecord>(db, {
      channel: RUNNING_CHANNEL,
      what: 'running versions',
      log: (o.logger ?? nullLogger).child({ service: 'images' }),
      read: async () => {
        const rows = await db.query<{ mac: string; image: string; version: string; since: string }>('SELECT mac, image, version, since FROM running_versions');
        return new Map(rows.map((r) => [r.mac, { image: r.image, version: r.version, since: r.since }]));
      },
      apply: heard,
    });
    return new PgRunningVersions(db, mirror, o.now ?? (() => new Date()));
  }

  reload(): Promise<void> {
    return this.#mirror.reload();
  }

  get #records(): Map<string, RunningRecord> {
    return this.#mirror.rows;
  }

  async record(mac: string, image: string, version: string): Promise<void> {
    const prev = this.#records.get(mac);
    if (prev?.image === image && prev.version === version) return;
    const rec: RunningRecord = { image, version, since: this.#now().toISOString() };
    this.#records.set(mac, rec);
    await this.#db.query(
      `WITH w AS (INSERT INTO running_versions (mac, image, version, since) VALUES ($1, $2, $3, $4)
         ON CONFLICT (mac) DO UPDATE SET image = EXCLUDED.image, version = EXCLUDED.version, since = EXCLUDED.since)
       SELECT pg_notify($5, $6)`,
      [mac, image, version, rec.since, RUNNING_CHANNEL, JSON.stringify({ mac, ...rec })]);
  }

  runners(image: string, version: string, known?: ReadonlySet<string>): string[] {
    return runnersOf(this.#records, image, version, known);
  }

  all(): ReadonlyMap<string, RunningRecord> {
    return this.#records;
  }

  detach(): void {
    void this.#mirror.detach();
  }
}

/** Another server's record, as announced. */
function heard(payload: string, records: Map<string, RunningRecord>): void {
  let r: Partial<RunningRecord & { mac: string }>;
  try {
    r = JSON.parse(payload) as typeof r;
  } catch {
    return;
  }
  if (typeof r.mac === 'string' && typeof r.image === 'string' && typeof r.version === 'string' && typeof r.since === 'string') {
    records.set(r.mac, { image: r.image, version: r.version, since: r.since });
  }
}
