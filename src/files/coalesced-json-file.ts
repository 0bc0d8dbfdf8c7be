import { readFile } from 'node:fs/promises';
import { nullLogger, type Logger } from '../log/logger.js';
import { writeFileAtomic } from './atomic-write.js';

export interface CoalescedJsonFileOptions {
  path: string;
  /** What is written: the caller's current state, asked for at write time. */
  snapshot: () => unknown;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** At most one write per this many milliseconds; changes in between share it. Default 1000. */
  writeIntervalMs?: number;
  /** Timer factory, so tests drive the coalescing without waiting. */
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
  /** File mode of the written file (see writeFileAtomic). */
  mode?: number;
  logger?: Logger;
  /** Names the file in log lines ("discovered machines", "secrets windows"). */
  what: string;
}

const realTimer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  // A pending write must not keep a finishing process alive; flush() writes it.
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

/** Reads a JSON state file; a missing file is `undefined`, anything unparsable an error naming it. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(`Cannot read ${path}: not JSON (${(e as Error).message})`);
  }
}

/**
 * A state file that follows changes made in memory: `changed()` marks it dirty, and it is
 * rewritten atomically at most once per interval, since the events behind it (DHCP exchanges,
 * boot script fetches) come in bursts. A failed write is logged and retried at the next change
 * or flush; writes are chained so the later state always lands last.
 */
export class CoalescedJsonFile {
  readonly #o: CoalescedJsonFileOptions;
  readonly #now: () => number;
  readonly #interval: number;
  readonly #setTimer: NonNullable<CoalescedJsonFileOptions['setTimer']>;
  readonly #log: Logger;
  #timer: { cancel(): void } | undefined;
  #dirty = false;
  #lastWrite = -Infinity;
  #writing: Promise<void> = Promise.resolve();

  constructor(options: CoalescedJsonFileOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#interval = options.writeIntervalMs ?? 1000;
    this.#setTimer = options.setTimer ?? realTimer;
    this.#log = options.logger ?? nullLogger;
  }

  changed(): void {
    this.#dirty = true;
    if (this.#timer) return;
    const wait = Math.max(0, this.#lastWrite + this.#interval - this.#now());
    this.#timer = this.#setTimer(() => {
      this.#timer = undefined;
      void this.#write();
    }, wait);
  }

  /** Writes pending changes now. */
  async flush(): Promise<void> {
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#write();
  }

  #write(): Promise<void> {
    this.#writing = this.#writing.then(async () => {
      if (!this.#dirty) return;
      this.#dirty = false;
      this.#lastWrite = this.#now();
      try {
        await writeFileAtomic(this.#o.path, `${JSON.stringify(this.#o.snapshot(), null, 1)}\n`, this.#o.mode === undefined ? {} : { mode: this.#o.mode });
      } catch (e) {
        this.#dirty = true;
        this.#log.log('warn', `${this.#o.what} not saved`, { file: this.#o.path, error: (e as Error).message });
      }
    });
    return this.#writing;
  }
}
