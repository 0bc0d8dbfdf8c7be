import type { Logger, LogLevel } from '../log/logger.js';

/**
 * A logger that only counts lines by level and message. Floods log one line per packet; a
 * memory logger would keep 100,000 lines and hide the very heap growth a flood test looks for.
 */
export function countingLogger(): Logger & { count(msg: string, level?: LogLevel): number; total(level: LogLevel): number } {
  const counts = new Map<string, number>();
  const key = (level: LogLevel, msg: string): string => `${level} ${msg}`;
  const logger: Logger = {
    log: (level, msg) => { counts.set(key(level, msg), (counts.get(key(level, msg)) ?? 0) + 1); },
    child: () => logger,
  };
  const count = (msg: string, level?: LogLevel): number => {
    if (level) return counts.get(key(level, msg)) ?? 0;
    let n = 0;
    for (const [k, v] of counts) if (k.slice(k.indexOf(' ') + 1) === msg) n += v;
    return n;
  };
  const total = (level: LogLevel): number => {
    let n = 0;
    for (const [k, v] of counts) if (k.startsWith(`${level} `)) n += v;
    return n;
  };
  return Object.assign(logger, { count, total });
}
