import { join } from 'node:path';
import { readStateFileSync, StateFileWriter, type SetTimer, type StateFileFormat } from '../files/state-file.js';
import { nullLogger, type Logger } from '../log/logger.js';

/**
 * The last failure report of each machine: what /init saved when a stage failed (its log, the
 * network, modules, mounts, the kernel's messages) and, under rd.shell=0, uploaded before it
 * rebooted. Kept in STATE/failure-reports.json, bounded in size and number.
 */
export interface FailureReport {
  mac: string;
  /** When the server received it, ISO 8601. */
  at: string;
  stage: string;
  cause: string;
  /** The report's text: printable, control characters other than line feed and tab replaced by "?". */
  text: string;
  /** The node sent more than MAX_REPORT_TEXT bytes: the text is its beginning. */
  truncated: boolean;
}

/** The largest report text kept, in bytes (UTF-8). /init sends at most 48 KiB. */
export const MAX_REPORT_TEXT = 64 * 1024;
/** Reports kept at most; past that the oldest goes. 256 × 64 KiB = 16 MiB at the very most. */
export const DEFAULT_MAX_REPORTS = 256;
const MAX_CAUSE = 1024;

export interface FailureReportInput {
  mac: string;
  stage: string;
  cause: string;
  text: string;
}

const FILE: StateFileFormat<FailureReport[]> = {
  what: 'failure reports',
  version: 1,
  // Reports hold a node's logs and command line: for the server's own eyes and the API's readers.
  mode: 0o600,
  decode(doc) {
    if (!Array.isArray(doc.reports)) throw new Error('no "reports" list');
    return (doc.reports as Array<Partial<FailureReport> | null>).filter((r): r is FailureReport =>
      typeof r?.mac === 'string' && typeof r.at === 'string' && typeof r.stage === 'string' && typeof r.cause === 'string' && typeof r.text === 'string');
  },
  encode: (reports) => ({ reports }),
};

export function failureReportsPath(stateDir: string): string {
  return join(stateDir, 'failure-reports.json');
}

/**
 * Text from a node, made safe to keep and to show: no terminal escapes or other control
 * characters (a CLI prints it, a page shows it), no one-time token (a report made before the
 * identity stage holds an unspent one on its command line), at most `max` bytes.
 */
export function cleanReportText(text: string, max = MAX_REPORT_TEXT): { text: string; truncated: boolean } {
  let clean = text
    .replace(/\r\n?/g, '\n')
    .replace(/rd\.diskless\.token=[^\s&]*/g, 'rd.diskless.token=(removed)')
    .replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '?');
  const truncated = Buffer.byteLength(clean) > max;
  if (truncated) {
    clean = Buffer.from(clean).subarray(0, max).toString('utf8');
    // A cut inside a UTF-8 sequence decodes as U+FFFD at the end: drop it.
    clean = clean.replace(/\uFFFD+$/, '');
  }
  return { text: clean, truncated };
}

/** What a report kept looks like, made from what a node sent (cleaned, `at` now). */
export function keptReport(r: FailureReportInput, now: number): FailureReport {
  const { text, truncated } = cleanReportText(r.text);
  return {
    mac: r.mac,
    at: new Date(now).toISOString(),
    stage: r.stage,
    cause: cleanReportText(r.cause, MAX_CAUSE).text.replace(/\n/g, ' '),
    text,
    truncated,
  };
}

/**
 * Each machine's last failure report, wherever it is kept: STATE/failure-reports.json
 * (FailureReportStore), or the state database every server shares (PgFailureReports).
 */
export interface FailureReportKeeper {
  /** Keeps `r` as its machine's last report (replacing the one before); returns what was kept. */
  put(r: FailureReportInput): FailureReport;
  get(mac: string): FailureReport | undefined;
  /** Writes what is not saved yet (at stop). */
  flush(): Promise<void>;
}

export interface FailureReportStoreOptions {
  /** STATE_DIR/failure-reports.json */
  path: string;
  maxEntries?: number;
  now?: () => number;
  /** At most one write per this many milliseconds (default 1000). */
  writeIntervalMs?: number;
  setTimer?: SetTimer;
  logger?: Logger;
}

/** Each machine's last failure report, in memory and in its state file. */
export class FailureReportStore implements FailureReportKeeper {
  readonly #reports = new Map<string, FailureReport>();
  readonly #max: number;
  readonly #now: () => number;
  readonly #file: StateFileWriter<FailureReport[]>;

  /** Loads what an earlier run kept; an unreadable file is logged and started over. */
  constructor(options: FailureReportStoreOptions) {
    this.#max = options.maxEntries ?? DEFAULT_MAX_REPORTS;
    this.#now = options.now ?? Date.now;
    const log = (options.logger ?? nullLogger).child({ service: 'failure-reports' });
    this.#file = new StateFileWriter({
      path: options.path,
      format: FILE,
      snapshot: () => [...this.#reports.values()],
      minIntervalMs: options.writeIntervalMs ?? 1000,
      now: this.#now,
      ...(options.setTimer ? { setTimer: options.setTimer } : {}),
      logger: log,
    });
    try {
      const loaded = readStateFileSync(options.path, FILE) ?? [];
      // Oldest first: the map's order is what trimming goes by.
      loaded.sort((a, b) => a.at.localeCompare(b.at));
      for (const r of loaded) this.#reports.set(r.mac, { ...r, ...cleanReportText(r.text), truncated: r.truncated === true || Buffer.byteLength(r.text) > MAX_REPORT_TEXT });
    } catch (e) {
      log.log('warn', 'failure reports not loaded, starting empty', { file: options.path, error: (e as Error).message });
    }
    this.#trim();
  }

  /** Keeps `r` as its machine's last report (replacing the one before); returns what was kept. */
  put(r: FailureReportInput): FailureReport {
    const kept = keptReport(r, this.#now());
    this.#reports.delete(r.mac);
    this.#reports.set(r.mac, kept);
    this.#trim();
    this.#file.changed();
    return kept;
  }

  get(mac: string): FailureReport | undefined {
    return this.#reports.get(mac);
  }

  get size(): number {
    return this.#reports.size;
  }

  /** Writes what is not saved yet (at stop). */
  flush(): Promise<void> {
    return this.#file.flush();
  }

  #trim(): void {
    for (const mac of this.#reports.keys()) {
      if (this.#reports.size <= this.#max) break;
      this.#reports.delete(mac);
    }
  }
}
