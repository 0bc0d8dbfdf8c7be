import { DEFAULT_MAX_REPORTS, keptReport, type FailureReport, type FailureReportInput, type FailureReportKeeper } from '../events/failure-reports.js';
import { nullLogger, type Logger } from '../log/logger.js';
import type { Database } from './database.js';

export const FAILURE_REPORTS_CHANNEL = 'diskless_failure_reports';

type Row = { mac: string; at: Date; stage: string; cause: string; text: string; truncated: boolean };

/**
 * Each machine's last failure report in the state database, whichever server received it, so
 * the API and `diskless node show` of every server show it. A copy in memory answers reads
 * (synchronously, and while the database is away); each report is written with the server that
 * received it and announced by MAC (a report is larger than a notice may be), and a server that
 * hears of one reads that row. A report that could not be written is kept in memory and written
 * after the reconnection, before the copy is read again whole.
 */
export class PgFailureReports implements FailureReportKeeper {
  readonly #db: Database;
  readonly #server: string;
  readonly #max: number;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #reports = new Map<string, FailureReport>();
  /** Reports received here that the database does not hold yet. */
  readonly #unsaved = new Map<string, FailureReport>();
  #writes: Promise<void> = Promise.resolve();
  #unlisten: (() => void) | undefined;
  #unresync: (() => void) | undefined;

  private constructor(db: Database, o: { server: string; maxEntries?: number; now?: () => number; logger?: Logger }) {
    this.#db = db;
    this.#server = o.server;
    this.#max = o.maxEntries ?? DEFAULT_MAX_REPORTS;
    this.#now = o.now ?? Date.now;
    this.#log = (o.logger ?? nullLogger).child({ service: 'failure-reports' });
  }

  /** `server`: this server's address, recorded with the reports it receives. */
  static async open(db: Database, o: { server: string; maxEntries?: number; now?: () => number; logger?: Logger }): Promise<PgFailureReports> {
    const r = new PgFailureReports(db, o);
    r.#unlisten = await db.listen(FAILURE_REPORTS_CHANNEL, (mac) => void r.#heard(mac));
    r.#unresync = db.onResync(() => void r.#resync());
    await r.reload();
    return r;
  }

  /** The copy read again whole (the newest `maxEntries`), with what is not saved yet kept over it. */
  async reload(): Promise<void> {
    const rows = await this.#db.query<Row>('SELECT mac, at, stage, cause, text, truncated FROM failure_reports ORDER BY at DESC, mac LIMIT $1', [this.#max]);
    this.#reports.clear();
    for (const r of rows.reverse()) this.#reports.set(r.mac, toReport(r));
    for (const r of this.#unsaved.values()) this.#keep(r);
  }

  put(input: FailureReportInput): FailureReport {
    const kept = keptReport(input, this.#now());
    this.#keep(kept);
    this.#unsaved.set(kept.mac, kept);
    this.#writes = this.#writes.then(() => this.#save(kept));
    return kept;
  }

  get(mac: string): FailureReport | undefined {
    return this.#reports.get(mac);
  }

  get size(): number {
    return this.#reports.size;
  }

  /** Waits for the writes under way (at stop); a write that fails stays unsaved and is logged. */
  flush(): Promise<void> {
    return this.#writes;
  }

  detach(): void {
    this.#unlisten?.();
    this.#unresync?.();
  }

  async #save(r: FailureReport): Promise<void> {
    try {
      await this.#db.transaction(async (q) => {
        await q.query(
          `INSERT INTO failure_reports (mac, at, stage, cause, text, truncated, server) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (mac) DO UPDATE SET at = EXCLUDED.at, stage = EXCLUDED.stage, cause = EXCLUDED.cause, text = EXCLUDED.text,
             truncated = EXCLUDED.truncated, server = EXCLUDED.server
           WHERE failure_reports.at <= EXCLUDED.at`,
          [r.mac, r.at, r.stage, r.cause, r.text, r.truncated, this.#server]);
        await q.query('DELETE FROM failure_reports WHERE mac IN (SELECT mac FROM failure_reports ORDER BY at DESC, mac OFFSET $1)', [this.#max]);
        await q.query('SELECT pg_notify($1, $2)', [FAILURE_REPORTS_CHANNEL, r.mac]);
      });
      if (this.#unsaved.get(r.mac) === r) this.#unsaved.delete(r.mac);
    } catch (e) {
      this.#log.log('warn', 'failure report not saved in the state database yet; kept here and written when it is back', { mac: r.mac, error: String(e) });
    }
  }

  async #resync(): Promise<void> {
    for (const r of [...this.#unsaved.values()]) this.#writes = this.#writes.then(() => this.#save(r));
    await this.#writes;
    await this.reload().catch((e: unknown) => this.#log.log('warn', 'failure reports not reread', { error: String(e) }));
  }

  async #heard(mac: string): Promise<void> {
    try {
      const row = (await this.#db.query<Row>('SELECT mac, at, stage, cause, text, truncated FROM failure_reports WHERE mac = $1', [mac]))[0];
      const mine = this.#reports.get(mac);
      if (row && (!mine || toReport(row).at >= mine.at)) this.#keep(toReport(row));
    } catch (e) {
      this.#log.log('warn', 'failure report not reread', { mac, error: String(e) });
    }
  }

  /**
   * `r` as its machine's last report, the oldest by time received dropped past `maxEntries`, ties
   * as the database breaks them. By time, not by arrival here: a notice read back late (a
   * report this copy already holds) must not outlive newer reports of other machines.
   */
  #keep(r: FailureReport): void {
    this.#reports.delete(r.mac);
    this.#reports.set(r.mac, r);
    while (this.#reports.size > this.#max) {
      let oldest: FailureReport | undefined;
      for (const x of this.#reports.values()) {
        if (!oldest || x.at < oldest.at || (x.at === oldest.at && x.mac > oldest.mac)) oldest = x;
      }
      this.#reports.delete(oldest!.mac);
    }
  }
}

function toReport(r: Row): FailureReport {
  return { mac: r.mac, at: r.at.toISOString(), stage: r.stage, cause: r.cause, text: r.text, truncated: r.truncated };
}
