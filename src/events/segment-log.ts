import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** A stored record: the log only needs to know its sequence number. */
export interface Sequenced {
  readonly seq: number;
}

export interface SegmentLogOptions {
  /** STATE/events: holds 000001.jsonl, 000002.jsonl, … */
  dir: string;
  /** A segment is closed and a new one started once it would pass this size. Default 4 MiB. */
  maxSegmentBytes?: number;
  /** Older segments than the newest K are deleted at rotation. Default 8 (so ≈ 32 MiB). */
  keepSegments?: number;
  /**
   * Appends reach the kernel at once (a crash of the process loses nothing) but are fsynced
   * at most this often, so a boot storm costs no disk flush per event; a power failure loses
   * at most this window. 0 fsyncs every append. Rotation and close always fsync. Default 1000.
   */
  syncIntervalMs?: number;
}

export interface OpenedLog<T extends Sequenced> {
  log: SegmentLog<T>;
  /** Every intact record, oldest first. */
  records: T[];
  /** Lines that were torn by a crash or not valid records; skipped, never fatal. */
  skipped: number;
}

interface Segment {
  number: number;
  firstSeq: number | undefined;
}

const SEGMENT_NAME = /^(\d{6,})\.jsonl$/;

/**
 * An append-only log of JSON lines in numbered segments with bounded total size. Writes are
 * synchronous so records land in seq order without a queue; they are small and go to the page
 * cache, the fsync is what is deferred (see syncIntervalMs).
 */
export class SegmentLog<T extends Sequenced> {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  readonly #syncMs: number;
  readonly #segments: Segment[];
  #fd: number;
  #size: number;
  #syncTimer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(opts: SegmentLogOptions, segments: Segment[], fd: number, size: number) {
    this.#dir = opts.dir;
    this.#maxBytes = opts.maxSegmentBytes ?? 4 * 1024 * 1024;
    this.#keep = Math.max(1, opts.keepSegments ?? 8);
    this.#syncMs = opts.syncIntervalMs ?? 1000;
    this.#segments = segments;
    this.#fd = fd;
    this.#size = size;
  }

  /**
   * Reads every segment, skipping lines that do not parse (a torn last line after a crash) and
   * records whose seq does not increase, and cuts a torn tail off the newest segment so the
   * next append starts on a line of its own.
   */
  static open<T extends Sequenced>(opts: SegmentLogOptions): OpenedLog<T> {
    mkdirSync(opts.dir, { recursive: true, mode: 0o750 });
    const numbers = readdirSync(opts.dir)
      .map((n) => SEGMENT_NAME.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const records: T[] = [];
    const segments: Segment[] = [];
    let skipped = 0;
    let lastSeq = 0;
    let tailSize = 0;
    for (const [i, number] of numbers.entries()) {
      const path = segmentPath(opts.dir, number);
      const text = readFileSync(path, 'utf8');
      const lines = text.split('\n');
      const torn = lines.pop() ?? '';
      if (torn !== '') skipped++;
      let firstSeq: number | undefined;
      for (const line of lines) {
        const record = parseRecord<T>(line);
        if (!record || record.seq <= lastSeq) {
          if (line !== '') skipped++;
          continue;
        }
        lastSeq = record.seq;
        firstSeq ??= record.seq;
        records.push(record);
      }
      segments.push({ number, firstSeq });
      if (i === numbers.length - 1) {
        tailSize = Buffer.byteLength(text) - Buffer.byteLength(torn);
        if (torn !== '') {
          const fd = openSync(path, 'r+');
          try {
            ftruncateSync(fd, tailSize);
            fsyncSync(fd);
          } finally {
            closeSync(fd);
          }
        }
      }
    }
    if (!segments.length) segments.push({ number: 1, firstSeq: undefined });
    const current = segments[segments.length - 1]!;
    const fd = openSync(segmentPath(opts.dir, current.number), 'a', 0o640);
    return { log: new SegmentLog<T>(opts, segments, fd, tailSize), records, skipped };
  }

  /** Seq of the oldest record still on disk; records below it were deleted by rotation. */
  get oldestSeq(): number | undefined {
    return this.#segments.find((s) => s.firstSeq !== undefined)?.firstSeq;
  }

  get segmentNumbers(): number[] {
    return this.#segments.map((s) => s.number);
  }

  append(record: T): void {
    if (this.#closed) throw new Error('Cannot append to the event log: it is closed');
    const line = Buffer.from(JSON.stringify(record) + '\n');
    if (this.#size > 0 && this.#size + line.length > this.#maxBytes) this.#rotate();
    writeAll(this.#fd, line);
    this.#size += line.length;
    const current = this.#segments[this.#segments.length - 1]!;
    current.firstSeq ??= record.seq;
    this.#scheduleSync();
  }

  /** Flushes pending appends to disk now. */
  sync(): void {
    if (this.#syncTimer) clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    if (!this.#closed) fdatasyncSync(this.#fd);
  }

  close(): void {
    if (this.#closed) return;
    this.sync();
    this.#closed = true;
    closeSync(this.#fd);
  }

  #scheduleSync(): void {
    if (this.#syncMs === 0) return this.sync();
    if (this.#syncTimer) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      if (!this.#closed) fdatasyncSync(this.#fd);
    }, this.#syncMs);
    // A pending flush must not keep a stopping server alive; close() flushes anyway.
    this.#syncTimer.unref();
  }

  #rotate(): void {
    this.sync();
    closeSync(this.#fd);
    const next = this.#segments[this.#segments.length - 1]!.number + 1;
    this.#fd = openSync(segmentPath(this.#dir, next), 'a', 0o640);
    this.#size = 0;
    this.#segments.push({ number: next, firstSeq: undefined });
    while (this.#segments.length > this.#keep) {
      const old = this.#segments.shift()!;
      unlinkSync(segmentPath(this.#dir, old.number));
    }
    syncDir(this.#dir);
  }
}

function segmentPath(dir: string, n: number): string {
  return join(dir, `${String(n).padStart(6, '0')}.jsonl`);
}

function parseRecord<T extends Sequenced>(line: string): T | undefined {
  if (line === '') return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    if (typeof v === 'object' && v !== null && Number.isSafeInteger((v as { seq?: unknown }).seq)) return v as T;
  } catch {
    // A torn or garbled line: the caller counts it.
  }
  return undefined;
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/** Makes the new segment's name and the deletions durable. */
function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
