import type { LogFields, Logger, LogLevel } from './logger.js';

export interface ThrottleOptions {
  /** At most one line per this many milliseconds. Default 60 s. */
  intervalMs?: number;
  now?: () => number;
}

/**
 * A log line for something a flood can repeat (a refused request, a refused connection): the
 * first occurrence is logged at once, then at most one line per interval, each carrying
 * `count` (occurrences since start) and `notLogged` (those folded into it since the line
 * before). A million refusals cost a line a minute, and the admin still sees that they happen.
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
    if (t - lastLine < interval) {
      notLogged += 1;
      return;
    }
    logger.log(level, msg, { ...fields, count, notLogged });
    lastLine = t;
    notLogged = 0;
  };
}
