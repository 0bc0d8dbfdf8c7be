import { runnersOf, type RunningRecord, type RunningVersionStore } from '../images/store/running-versions.js';
import { nullLogger, type Logger } from '../log/logger.js';
import type { Database } from './database.js';

export const RUNNING_CHANNEL = 'diskless_running_versions';

/**
 * Which stored version each node was last handed, by whichever boot server handed it: a copy in
 * memory (the API and `image rm` read it synchronously), each record written to running_versions
 * and announced, the copy read again whole after a reconnection.
 */
export class PgRunningVersions implements RunningVersionStore {
  readonly #db: Database;
  readonly #records = new Map<string, RunningRecord>();
  readonly #now: () => Date;
  readonly #log: Logger;
  #unlisten: (() => void) | undefined;
  #unresync: (() => void) | undefined;

  private constructor(db: Database, now: () => Date, log: Logger) {
    this.#db = db;
    this.#now = now;
    this.#log = log;
  }

  static async open(db: Database, o: { now?: () => Date; logger?: Logger } = {}): Promise<PgRunningVersions> {
    const r = new PgRunningVersions(db, o.now ?? (() => new Date()), (o.logger ?? nullLogger).child({ service: 'images' }));
    r.#unlisten = await db.listen(RUNNING_CHANNEL, (payload) => r.#heard(payload));
    r.#unresync = db.onResync(() => void r.reload().catch((e: unknown) => r.#log.log('warn', 'running versions not reread', { error: String(e) })));
    await r.reload();
    return r;
  }

  async reload(): Promise<void> {
    const rows = await this.#db.query<{ mac: string; image: string; version: string; since: string }>('SELECT mac, image, version, since FROM running_versions');
    this.#records.clear();
    for (const r of rows) this.#records.set(r.mac, { image: r.image, version: r.version, since: r.since });
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
    this.#unlisten?.();
    this.#unresync?.();
  }

  #heard(payload: string): void {
    let r: Partial<RunningRecord & { mac: string }>;
    try {
      r = JSON.parse(payload) as typeof r;
    } catch {
      return;
    }
    if (typeof r.mac === 'string' && typeof r.image === 'string' && typeof r.version === 'string' && typeof r.since === 'string') {
      this.#records.set(r.mac, { image: r.image, version: r.version, since: r.since });
    }
  }
}
