import type { LogFields, Logger } from './logger.js';

/**
 * A warning a flood would repeat once per packet, logged at most once per interval: the first
 * occurrence at once, those within the interval after it only counted, and the next one after
 * the interval logged with that count as `suppressed`. A count is reported by the next line,
 * so a burst that stops leaves its tail uncounted in the log (the per-packet debug lines and
 * events still have it); what the log gains is a bound of one line per interval.
 */
export class ThrottledWarning {
  readonly #log: Logger;
  readonly #msg: string;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #lastAt: number | undefined;
  #suppressed = 0;

  constructor(log: Logger, msg: string, intervalMs: number, now: () => number = Date.now) {
    this.#log = log;
    this.#msg = msg;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  note(fields: LogFields): void {
    const now = this.#now();
    // A clock set back opens a new interval rather than silencing the warning until it catches up.
    if (this.#lastAt !== undefined && now >= this.#lastAt && now - this.#lastAt < this.#intervalMs) {
      this.#suppressed++;
      return;
    }
    this.#log.log('warn', this.#msg, this.#suppressed > 0 ? { ...fields, suppressed: this.#suppressed } : fields);
    this.#lastAt = now;
    this.#suppressed = 0;
  }
}
