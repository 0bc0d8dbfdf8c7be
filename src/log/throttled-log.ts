import type { LogFields, Logger, LogLevel } from './logger.js';

export interface ThrottleOptions {
  /** At most one line per this many milliseconds. Default 60 s. */
  intervalMs?: number;
  now?: () => number;
}

/**
 * A log line for something a flood can repeat (a refused request, a refused connection, a
 * suspicious DHCP packet): the first occurrence is logged at once, then at most one line per
 * interval, each carrying `count` (occurrences since start) and `notLogged` (those folded into
 * it since the line before). A million refusals cost a line a minute, and the admin still sees
 * that they happen. A count is reported by the next line, so a burst that stops leaves its
 * tail unreported in the log (events and debug lines still have it).
 */
export function throttledLog(logger: Logger, level: LogLevel, msg: string, opts: ThrottleOptions = {}): (fields?: LogFields) => void {
  const interval = opts.intervalMs ?? 60_000;
  const now = opts.now ?? Date.now;
  let lastLine = -Infinity;
  let notLogged = 0;
  let count = 0;
  return (fields = {}) => {
    count += 1;
    const t = now();
    // A clock set back opens a new interval rather than silencing the line until it catches up.
    if (t >= lastLine && t - lastLine < interval) {
      notLogged += 1;
      return;
    }
    logger.log(level, msg, { ...fields, count, notLogged });
    lastLine = t;
    notLogged = 0;
  };
}
