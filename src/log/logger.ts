/**
 * Structured logging: one line per event, fields such as service, mac, xid, peer,
 * file, bytes, durationMs. Libraries take a Logger and default to `nullLogger`.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

class FieldLogger implements Logger {
  constructor(
    private readonly sink: (level: LogLevel, msg: string, fields: LogFields) => void,
    private readonly base: LogFields,
  ) {}
  log(level: LogLevel, msg: string, fields?: LogFields): void {
    this.sink(level, msg, { ...this.base, ...fields });
  }
  child(fields: LogFields): Logger {
    return new FieldLogger(this.sink, { ...this.base, ...fields });
  }
}

export const nullLogger: Logger = new FieldLogger(() => {}, {});

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Writes one JSON object per line: {"ts":…,"level":…,"msg":…,…fields}. */
export function jsonLogger(
  write: (line: string) => void = (l) => process.stderr.write(l),
  minLevel: LogLevel = 'info',
  now: () => Date = () => new Date(),
): Logger {
  return new FieldLogger((level, msg, fields) => {
    if (ORDER[level] < ORDER[minLevel]) return;
    const clean: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) clean[k] = v;
    write(JSON.stringify({ ts: now().toISOString(), level, msg, ...clean }) + '\n');
  }, {});
}

/** Collects lines in memory; for tests. */
export function memoryLogger(): Logger & { lines: Array<{ level: LogLevel; msg: string } & LogFields> } {
  const lines: Array<{ level: LogLevel; msg: string } & LogFields> = [];
  const l = new FieldLogger((level, msg, fields) => lines.push({ ...fields, level, msg }), {});
  return Object.assign(l, { lines });
}
