import type { SizedReader } from '../../files/sized-reader.js';

/**
 * Serves block reads from one larger chunk, so a 512-byte lockstep transfer costs one disk
 * read per chunk instead of one per block, and a window's retransmission costs none. The next
 * chunk is read while the current one is being sent, so a transfer moving forward finds its
 * blocks in memory and sends them without waiting on the disk or a promise turn.
 */
export class ReadAhead {
  readonly #source: SizedReader;
  readonly #chunkBytes: number;
  #offset = 0;
  #chunk: Buffer = Buffer.alloc(0);
  /** The chunk after the current one, being read (or read and waiting). */
  #next: { readonly offset: number; readonly bytes: Promise<Buffer> } | undefined;

  constructor(source: SizedReader, chunkBytes: number) {
    this.#source = source;
    this.#chunkBytes = chunkBytes;
  }

  /**
   * The bytes at `offset` when all `length` of them are in memory now, else undefined (then
   * `read` them). Starts reading the following chunk once the reader is past the middle of this one.
   */
  peek(offset: number, length: number): Buffer | undefined {
    const at = offset - this.#offset;
    if (at < 0 || at >= this.#chunk.length) return undefined;
    if (this.#next === undefined && at + length > this.#chunk.length >> 1) this.#prefetch(this.#offset + this.#chunk.length);
    if (at + length > this.#chunk.length) return undefined;
    return this.#chunk.subarray(at, at + length);
  }

  /** Returns fewer than `length` bytes only if the source came up short. */
  async read(offset: number, length: number): Promise<Buffer> {
    const hit = this.peek(offset, length);
    if (hit !== undefined) return hit;
    const next = this.#next;
    this.#next = undefined;
    const at = offset - this.#offset;
    // The read ahead is used when the request starts at it, or starts in the current chunk
    // and runs into it (a block or window across the boundary).
    if (next !== undefined && (next.offset === offset || (at >= 0 && at < this.#chunk.length && next.offset === this.#offset + this.#chunk.length))) {
      const ahead = await next.bytes.catch(() => undefined);
      // A failed read ahead is read again below, where its error is the caller's.
      if (ahead !== undefined) {
        const tail = next.offset === offset ? undefined : this.#chunk.subarray(at);
        this.#offset = next.offset;
        this.#chunk = ahead;
        // Only the straddling bytes are copied; the read ahead becomes the current chunk.
        const bytes = tail === undefined ? ahead.subarray(0, length) : Buffer.concat([tail, ahead.subarray(0, length - tail.length)]);
        if (bytes.length === length || next.offset + ahead.length >= this.#source.size) return bytes;
      }
    }
    const want = Math.max(length, Math.min(this.#chunkBytes, this.#source.size - offset));
    const chunk = await this.#source.read(offset, want);
    this.#offset = offset;
    this.#chunk = chunk;
    return chunk.subarray(0, length);
  }

  #prefetch(offset: number): void {
    if (offset >= this.#source.size || this.#chunk.length === 0) return;
    const bytes = this.#source.read(offset, Math.min(this.#chunkBytes, this.#source.size - offset));
    // Awaited (and its failure reported) only if the transfer gets there.
    bytes.catch(() => {});
    this.#next = { offset, bytes };
  }
}
