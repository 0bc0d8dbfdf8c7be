/**
 * An incremental reader of newc ("070701") and newc-with-checksum ("070702") archives, for
 * listing an initramfs without unpacking it. Chunks go in, entry descriptions come out; file
 * contents are skipped, never buffered. Like the kernel, it accepts several archives one after
 * another with NUL padding between them, and it stops (without consuming) at the first byte that
 * starts neither: that is where a compressed archive follows an uncompressed early one.
 */

export type ListedType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

export interface ListedEntry {
  path: string;
  type: ListedType;
  /** Permission bits (07777). */
  mode: number;
  /** Data bytes: file length, or the length of a symlink's target. */
  size: number;
  target?: string;
}

const HEADER_SIZE = 110;
const TRAILER = 'TRAILER!!!';
// A longer name or link target than the kernel's PATH_MAX is not a real entry.
const MAX_NAME = 4096;

const TYPES: ReadonlyMap<number, ListedType> = new Map([
  [0o100000, 'file'],
  [0o040000, 'dir'],
  [0o120000, 'symlink'],
  [0o020000, 'char'],
  [0o060000, 'block'],
  [0o010000, 'fifo'],
  [0o140000, 'socket'],
]);

const isMagic = (b: Buffer): boolean => b.toString('latin1', 0, 6) === '070701' || b.toString('latin1', 0, 6) === '070702';

function hexField(b: Buffer, at: number, what: string, offset: number): number {
  const s = b.toString('latin1', at, at + 8);
  if (!/^[0-9a-fA-F]{8}$/.test(s)) throw new Error(`Cannot read cpio header at offset ${offset}: ${what} "${s}" is not hex`);
  return parseInt(s, 16);
}

export class CpioStreamParser {
  #pending: Buffer = Buffer.alloc(0);
  /** Absolute offset of #pending[0] in the stream. */
  #offset = 0;
  /** Bytes still to drop (file data and padding), possibly beyond what has arrived. */
  #skip = 0;
  #inArchive = false;
  #archiveStart = 0;
  #archives = 0;
  #stoppedAt: number | undefined;

  /** Offset of the first byte that is not cpio (or padding); set once, and push() then ignores input. */
  get stoppedAt(): number | undefined {
    return this.#stoppedAt;
  }

  /** Archives seen so far (each ended by its trailer). */
  get archives(): number {
    return this.#archives;
  }

  push(chunk: Uint8Array): ListedEntry[] {
    if (this.#stoppedAt !== undefined) return [];
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, data.length);
      this.#skip -= n;
      this.#offset += n;
      data = data.subarray(n);
    }
    this.#pending = this.#pending.length === 0 ? data : Buffer.concat([this.#pending, data]);
    const out: ListedEntry[] = [];
    while (this.#skip === 0 && this.#stoppedAt === undefined) {
      const entry = this.#inArchive ? this.#header() : this.#between();
      if (entry === undefined) break;
      if (entry !== null) out.push(entry);
    }
    return out;
  }

  /** Ends the stream; throws if it stopped inside an entry. */
  finish(): void {
    if (this.#stoppedAt !== undefined) return;
    if (this.#inArchive || this.#skip > 0) {
      throw new Error(`Cannot read cpio archive: truncated at offset ${this.#offset + this.#pending.length} (no ${TRAILER})`);
    }
    if (this.#archives === 0) throw new Error('Cannot read cpio archive: no archive found');
  }

  #consume(n: number): void {
    this.#pending = this.#pending.subarray(n);
    this.#offset += n;
  }

  /** Drops `n` bytes, of which some may not have arrived yet. */
  #drop(n: number): void {
    const now = Math.min(n, this.#pending.length);
    this.#consume(now);
    this.#skip = n - now;
  }

  /** Padding between archives, or the start of the next; null = progress, undefined = need more. */
  #between(): null | undefined {
    let zeros = 0;
    while (zeros < this.#pending.length && this.#pending[zeros] === 0) zeros++;
    this.#consume(zeros);
    if (this.#pending.length < 6) return undefined;
    if (!isMagic(this.#pending)) {
      this.#stoppedAt = this.#offset;
      return undefined;
    }
    this.#inArchive = true;
    this.#archiveStart = this.#offset;
    return null;
  }

  #pad(length: number): number {
    return (4 - ((this.#offset + length - this.#archiveStart) % 4)) % 4;
  }

  #header(): ListedEntry | null | undefined {
    const b = this.#pending;
    if (b.length < HEADER_SIZE) return undefined;
    const at = this.#offset;
    if (!isMagic(b)) throw new Error(`Cannot read cpio header at offset ${at}: bad magic "${b.toString('latin1', 0, 6)}"`);
    const mode = hexField(b, 14, 'c_mode', at);
    const size = hexField(b, 54, 'c_filesize', at);
    const nameSize = hexField(b, 94, 'c_namesize', at);
    if (nameSize === 0 || nameSize > MAX_NAME) throw new Error(`Cannot read cpio header at offset ${at}: c_namesize ${nameSize}`);
    const nameEnd = HEADER_SIZE + nameSize;
    const dataStart = nameEnd + this.#pad(nameEnd);
    const type = TYPES.get(mode & 0o170000);
    // A symlink's target is its data; read it whole when it is short enough to be real.
    const keep = type === 'symlink' && size <= MAX_NAME ? size : 0;
    if (b.length < dataStart + keep) return undefined;
    const path = b.toString('utf8', HEADER_SIZE, nameEnd - 1);
    const target = keep > 0 ? b.toString('utf8', dataStart, dataStart + keep) : undefined;
    this.#consume(dataStart);
    this.#drop(size + this.#pad(size));
    if (path === TRAILER) {
      this.#inArchive = false;
      this.#archives++;
      return null;
    }
    if (type === undefined) throw new Error(`Cannot read cpio entry ${path} at offset ${at}: unknown file type in mode ${mode.toString(8)}`);
    const entry: ListedEntry = { path, type, mode: mode & 0o7777, size };
    if (target !== undefined) entry.target = target;
    return entry;
  }
}
