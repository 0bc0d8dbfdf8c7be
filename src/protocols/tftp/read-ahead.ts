import type { SizedReader } from '../../files/sized-reader.js';

/**
 * Serves block reads from one larger chunk, so a 512-byte lockstep transfer costs one disk
 * read per chunk instead of one per block, and a window's retransmission costs none.
 */
export class ReadAhead {
  readonly #source: SizedReader;
  readonly #chunkBytes: number;
  #offset = 0;
  #chunk: Buffer = Buffer.alloc(0);

  constructor(source: SizedReader, chunkBytes: number) {
    this.#source = source;
    this.#chunkBytes = chunkBytes;
  }

  /** Returns fewer than `length` bytes only if the source came up short. */
  async read(offset: number, length: number): Promise<Buffer> {
    if (offset >= this.#offset && offset + length <= this.#offset + this.#chunk.length) {
      return this.#chunk.subarray(offset - this.#offset, offset - this.#offset + length);
    }
    const want = Math.max(length, Math.min(this.#chunkBytes, this.#source.size - offset));
    const chunk = await this.#source.read(offset, want);
    this.#offset = offset;
    this.#chunk = chunk;
    return chunk.subarray(0, length);
  }
}
