import { DisklessError } from '../errors/diskless-error.js';
import { readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { nullLogger, type Logger } from '../log/logger.js';
import { writeFileAtomic } from './atomic-write.js';
import { isCode } from './error-code.js';

/**
 * The layout of one JSON state file (DHCP leases, discovered machines, secrets windows, running
 * versions, the image store's manifests and pointers): how its document maps to the state the
 * server holds, and which format number it carries.
 */
export interface StateFileFormat<T> {
  /** Names the file in errors and log lines: "DHCP leases". */
  readonly what: string;
  /**
   * The layout's number, written in `versionField` at the top of the document; a file with
   * another number is refused, so a newer layout is never half understood. Absent for files
   * that carry none (the image store's manifests and pointers, whose content the store returns
   * as it is on disk).
   */
  readonly version?: number;
  /** The field holding `version`. Default "format"; dhcp-leases.json has always said "version". */
  readonly versionField?: string;
  /** A file without the field is read as `version`: it was written before the field existed. */
  readonly unversionedIsCurrent?: boolean;
  /** Permissions of the written file, exactly (see writeFileAtomic). Default 0644 less the umask. */
  readonly mode?: number;
  /** What the admin can do about a file that cannot be read, appended to the error. */
  readonly remedy?: string;
  /**
   * The document (an object, its version already checked) as state. Throws an Error saying
   * what is wrong ('no "leases" list'); the error the caller sees names the file as well.
   */
  decode(doc: Readonly<Record<string, unknown>>): T;
  /** The state as a document, without the version field (added here). */
  encode(state: T): Record<string, unknown>;
}

/** A state file that exists but cannot be read as its format: the message says which and why. */
export class StateFileError extends DisklessError {
  override name = 'StateFileError';

  constructor(
    readonly path: string,
    message: string,
  ) {
    super('DL_STATE', message);
  }
}

function refusal(path: string, format: StateFileFormat<unknown>, problem: string): StateFileError {
  return new StateFileError(path, `Cannot load ${format.what} from ${path}: ${problem}${format.remedy ? `; ${format.remedy}` : ''}`);
}

/** The state in `text`, the content of `path`; throws StateFileError. */
export function decodeStateFile<T>(path: string, format: StateFileFormat<T>, text: string): T {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw refusal(path, format, `not JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw refusal(path, format, 'not a JSON object');
  const record = doc as Record<string, unknown>;
  if (format.version !== undefined) {
    const field = format.versionField ?? 'format';
    const found = record[field];
    const current = found === format.version || (found === undefined && format.unversionedIsCurrent === true);
    if (!current) {
      throw refusal(path, format, found === undefined ? `no "${field}" field` : `"${field}" is ${JSON.stringify(found)}, and this server reads ${format.version}`);
    }
  }
  try {
    return format.decode(record);
  } catch (e) {
    throw refusal(path, format, (e as Error).message);
  }
}

/** The file's text for `state`: the version field first, then the document, indented, one final newline. */
export function encodeStateFile<T>(format: StateFileFormat<T>, state: T): string {
  const body = format.encode(state);
  const doc = format.version === undefined ? body : { [format.versionField ?? 'format']: format.version, ...body };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** The state in `path`, or undefined when there is no such file; throws StateFileError. */
export async function readStateFile<T>(path: string, format: StateFileFormat<T>): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (isCode(e, 'ENOENT')) return undefined;
    throw refusal(path, format, (e as Error).message);
  }
  return decodeStateFile(path, format, text);
}

/**
 * `readStateFile` for a store built synchronously before its service starts (the DHCP lease
 * table is read in the LeaseStore constructor, before the first packet can ask for it).
 */
export function readStateFileSync<T>(path: string, format: StateFileFormat<T>): T | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (isCode(e, 'ENOENT')) return undefined;
    throw refusal(path, format, (e as Error).message);
  }
  return decodeStateFile(path, format, text);
}

/** Replaces `path` (its directory created if missing) with `text`, atomically and durably. */
async function replaceFile(path: string, text: string, mode: number | undefined): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, text, mode === undefined ? {} : { mode });
}

/** Writes `state` to `path` at once (see writeFileAtomic); for files changed rarely and under a lock. */
export async function writeStateFile<T>(path: string, format: StateFileFormat<T>, state: T): Promise<void> {
  await replaceFile(path, encodeStateFile(format, state), format.mode);
}

export type SetTimer = (fn: () => void, ms: number) => { cancel(): void };

/**
 * Due now: setImmediate, which still lets every packet already read in this turn of the event
 * loop put its change into the write. Later: an unref'd timeout, since a pending write must not
 * keep a finishing process alive (`flush()` writes it).
 */
const realTimer: SetTimer = (fn, ms) => {
  if (ms <= 0) {
    const immediate = setImmediate(fn);
    return { cancel: () => clearImmediate(immediate) };
  }
  const timeout = setTimeout(fn, ms);
  timeout.unref();
  return { cancel: () => clearTimeout(timeout) };
};

export interface StateFileWriterOptions<T> {
  readonly path: string;
  readonly format: StateFileFormat<T>;
  /** The state to write, asked for when a write starts: it carries every change made before. */
  readonly snapshot: () => T;
  /**
   * At most one write starts per this many milliseconds; changes in between share the next.
   * Default 0: a write starts once the current turn of the event loop is over.
   */
  readonly minIntervalMs?: number;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
  /** Timer factory, so tests drive the coalescing without waiting. */
  readonly setTimer?: SetTimer;
  /** Replaces the file atomically and durably; tests inject one that counts or fails. */
  readonly writeFile?: (path: string, text: string) => Promise<void>;
  /** A failed write is logged here ("<what> not saved") as well as rejecting its commits. */
  readonly logger?: Logger;
}

/** One write and everyone waiting for it. */
interface Batch {
  readonly done: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A failure reaches every commit() caller; a change nobody waits for must not become an
  // unhandled rejection.
  done.catch(() => {});
  return { done, resolve, reject };
}

/**
 * A state file that follows state kept in memory, in group commits: `changed()` marks a change
 * and schedules a write; one write (temp + fsync + rename + directory fsync) saves every change
 * made before it starts, and changes made while it runs are saved together by the next one.
 * So a burst of changes shares one fsync, the event loop never waits for the disk, and
 * `commit()` still tells each caller when its own change is durable (a DHCP ACK waits for the
 * write holding its binding). With `minIntervalMs`, writes are also spaced out in time, for
 * state that changes in bursts and may lag a second behind (discovered machines).
 *
 * A failed write rejects the commits waiting on it and is logged; the state stays dirty, and
 * the next change, commit or flush writes it again with everything since.
 */
export class StateFileWriter<T> {
  readonly #o: StateFileWriterOptions<T>;
  readonly #interval: number;
  readonly #now: () => number;
  readonly #setTimer: SetTimer;
  readonly #writeFile: (path: string, text: string) => Promise<void>;
  readonly #log: Logger;
  /** Counts changes; `#saved` is its value in the last completed write. */
  #changes = 0;
  #saved = 0;
  /** The write in progress and the `#changes` it contains. */
  #writing: { batch: Batch; upTo: number } | undefined;
  /** The next write: changes since the one in progress (or since a failed one) wait here. */
  #next: Batch | undefined;
  /** When `#next` starts, unless a write is in progress (its end starts `#next`). */
  #timer: { cancel(): void } | undefined;
  #lastWrite = -Infinity;

  constructor(options: StateFileWriterOptions<T>) {
    this.#o = options;
    this.#interval = options.minIntervalMs ?? 0;
    this.#now = options.now ?? Date.now;
    this.#setTimer = options.setTimer ?? realTimer;
    this.#writeFile = options.writeFile ?? ((path, text) => replaceFile(path, text, options.format.mode));
    this.#log = options.logger ?? nullLogger;
  }

  /** The state changed in memory: a write will save it. */
  changed(): void {
    this.#changes++;
    this.#schedule();
  }

  /**
   * Resolves once every change so far is on disk; rejects when the write that was to contain
   * it failed (the change stays in memory and goes out with the next write).
   */
  commit(): Promise<void> {
    if (this.#saved >= this.#changes) return Promise.resolve();
    if (this.#writing !== undefined && this.#writing.upTo >= this.#changes) return this.#writing.batch.done;
    return this.#schedule().done;
  }

  /** Waits for the write in progress, then writes what is still unsaved now; never rejects (for shutdown). */
  async flush(): Promise<void> {
    await this.#writing?.batch.done.catch(() => {});
    if (this.#saved >= this.#changes || this.#writing !== undefined) {
      await this.#writing?.batch.done.catch(() => {});
      return;
    }
    this.#timer?.cancel();
    this.#timer = undefined;
    const batch = this.#schedule();
    void this.#write();
    await batch.done.catch(() => {});
  }

  /** The batch the next write serves, its start scheduled unless a write is in progress. */
  #schedule(): Batch {
    if (this.#next === undefined) {
      this.#next = newBatch();
      if (this.#writing === undefined) this.#arm();
    }
    return this.#next;
  }

  #arm(): void {
    // Capped at one interval, so a clock set back cannot hold a write for the difference.
    const wait = this.#interval <= 0 ? 0 : Math.min(this.#interval, Math.max(0, this.#lastWrite + this.#interval - this.#now()));
    this.#timer = this.#setTimer(() => {
      this.#timer = undefined;
      void this.#write();
    }, wait);
  }

  async #write(): Promise<void> {
    const batch = this.#next;
    if (batch === undefined || this.#writing !== undefined) return;
    this.#next = undefined;
    const upTo = this.#changes;
    this.#writing = { batch, upTo };
    this.#lastWrite = this.#now();
    try {
      await this.#writeFile(this.#o.path, encodeStateFile(this.#o.format, this.#o.snapshot()));
      this.#saved = Math.max(this.#saved, upTo);
      batch.resolve();
    } catch (err) {
      this.#log.log('warn', `${this.#o.format.what} not saved`, { file: this.#o.path, error: (err as Error).message });
      batch.reject(err);
    } finally {
      this.#writing = undefined;
      if (this.#next !== undefined) this.#arm();
    }
  }
}
