import type { SizedReader } from './sized-reader.js';

/**
 * Blocks of served files kept in memory, shared by HTTP and NBD: a bounded LRU cache.
 *
 * Served bulk files (image versions, kernels, initrds) are immutable while served, and a boot
 * storm reads the same few files again and again. Without this, every HTTP chunk and every NBD
 * read is an allocation, a pread on the libuv thread pool and a promise turn; with a block in
 * memory the reply is one socket write of a slice of it, synchronously, with no thread-pool
 * hop. The page cache still holds the file; this holds only what was served lately, up to
 * `maxBytes`.
 *
 * Blocks are keyed by the reader's `identity` (device, inode, size, mtime and ctime of the
 * opened descriptor, see `openRegularFile`) and their index: a file replaced on disk (renamed
 * over, rewritten, touched) is a new identity whose blocks are read anew; the old identity's
 * blocks age out. Readers without an identity (bytes already in memory) are never cached.
 */
export interface BlockCacheOptions {
  /** Memory the blocks may hold together; 0 turns the cache off (every read goes to the file). */
  readonly maxBytes: number;
  /** Bytes per block, a power of two; reads are rounded out to blocks. Default 128 KiB. */
  readonly blockBytes?: number;
}

export interface BlockCacheStats {
  readonly bytes: number;
  readonly maxBytes: number;
  readonly blocks: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
}

/**
 * 128 KiB: a random 4 KiB NBD read that misses costs one 128 KiB pread (tens of microseconds
 * from the page cache, and the neighbours a booting kernel asks for next come with it); an
 * HTTP download is a few thousand writes per 300 MB.
 */
export const DEFAULT_BLOCK_BYTES = 128 * 1024;

interface Loading {
  readonly promise: Promise<Buffer>;
}

export class BlockCache {
  readonly maxBytes: number;
  readonly blockBytes: number;
  /** Insertion order is recency order: a hit deletes and re-inserts its key. */
  readonly #blocks = new Map<string, Buffer>();
  /** Misses being read now, so concurrent readers of one block share one pread. */
  readonly #loading = new Map<string, Loading>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(options: BlockCacheOptions) {
    const blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
    if (!Number.isInteger(blockBytes) || blockBytes < 4096 || (blockBytes & (blockBytes - 1)) !== 0) {
      throw new RangeError(`Cannot create a block cache: block size ${blockBytes} is not a power of two of at least 4096`);
    }
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 0) {
      throw new RangeError(`Cannot create a block cache: maxBytes ${options.maxBytes} is not a whole number >= 0`);
    }
    this.maxBytes = options.maxBytes;
    this.blockBytes = blockBytes;
  }

  stats(): BlockCacheStats {
    return { bytes: this.#bytes, maxBytes: this.maxBytes, blocks: this.#blocks.size, hits: this.#hits, misses: this.#misses, evictions: this.#evictions };
  }

  /**
   * Whether reads of this reader go through the cache: it has an identity, and its file is at
   * most half the cache, so one file streamed from start to end cannot push every other file
   * out (a bigger one would only churn: LRU keeps nothing of a scan longer than itself).
   */
  caches(reader: SizedReader): boolean {
    return reader.identity !== undefined && this.maxBytes > 0 && reader.size <= this.maxBytes / 2;
  }

  /**
   * The bytes offset..offset+length (clamped to the reader's size) as slices of cached blocks,
   * when every block is in memory; undefined otherwise. Never reads the file, never copies.
   */
  peek(reader: SizedReader, offset: number, length: number): Buffer[] | undefined {
    if (!this.caches(reader)) return undefined;
    const end = Math.min(reader.size, offset + length);
    const out: Buffer[] = [];
    for (let at = offset; at < end; ) {
      const index = Math.floor(at / this.blockBytes);
      const key = `${reader.identity}#${index}`;
      const block = this.#blocks.get(key);
      if (block === undefined) return undefined;
      this.#touch(key, block);
      const from = at - index * this.blockBytes;
      const slice = block.subarray(from, Math.min(block.length, from + end - at));
      out.push(slice);
      at += slice.length;
    }
    this.#hits += 1;
    return out;
  }

  /**
   * The bytes offset..offset+length (clamped to the reader's size) as slices: from memory when
   * cached (see `peek`), else read, through the cache when it `caches` the reader. Fewer bytes
   * come back only when the file shrank since it was opened, as with `reader.read`; a short
   * block is returned but never cached.
   */
  async read(reader: SizedReader, offset: number, length: number): Promise<Buffer[]> {
    const hit = this.peek(reader, offset, length);
    if (hit !== undefined) return hit;
    const end = Math.min(reader.size, offset + length);
    if (!this.caches(reader)) {
      const data = await reader.read(offset, Math.max(0, end - offset));
      return data.length === 0 ? [] : [data];
    }
    this.#misses += 1;
    const first = Math.floor(offset / this.blockBytes);
    const last = Math.floor((Math.max(offset, end) - 1) / this.blockBytes);
    const blocks = await Promise.all(Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => this.#block(reader, first + i)));
    const out: Buffer[] = [];
    for (let i = 0, at = offset; i < blocks.length && at < end; i++) {
      const block = blocks[i]!;
      const from = at - (first + i) * this.blockBytes;
      if (from >= block.length) break;
      const slice = block.subarray(from, Math.min(block.length, from + end - at));
      out.push(slice);
      at += slice.length;
      // A short block is the file's end as it is now: nothing after it can be served.
      if (block.length < this.#expectedLength(reader, first + i)) break;
    }
    return out;
  }

  /** Drops every block (tests, or a server that stops). */
  clear(): void {
    this.#blocks.clear();
    this.#bytes = 0;
  }

  #expectedLength(reader: SizedReader, index: number): number {
    return Math.min(this.blockBytes, reader.size - index * this.blockBytes);
  }

  #block(reader: SizedReader, index: number): Promise<Buffer> {
    const key = `${reader.identity}#${index}`;
    const cached = this.#blocks.get(key);
    if (cached !== undefined) {
      this.#touch(key, cached);
      return Promise.resolve(cached);
    }
    const loading = this.#loading.get(key);
    if (loading !== undefined) return loading.promise;
    const expected = this.#expectedLength(reader, index);
    const promise = reader.read(index * this.blockBytes, expected).then((data) => {
      // Only whole blocks are kept: a short one means the file shrank under its descriptor.
      if (data.length === expected) this.#insert(key, data);
      return data;
    });
    this.#loading.set(key, { promise });
    const forget = () => this.#loading.delete(key);
    promise.then(forget, forget);
    return promise;
  }

  #touch(key: string, block: Buffer): void {
    this.#blocks.delete(key);
    this.#blocks.set(key, block);
  }

  #insert(key: string, block: Buffer): void {
    if (block.length > this.maxBytes) return;
    const old = this.#blocks.get(key);
    if (old !== undefined) {
      this.#blocks.delete(key);
      this.#bytes -= old.length;
    }
    // reader.read may hand back a slice of a larger allocation; keep exactly the block's bytes.
    const own = block.byteOffset === 0 && block.buffer.byteLength === block.length ? block : Buffer.from(block);
    while (this.#bytes + own.length > this.maxBytes) {
      const oldest = this.#blocks.keys().next();
      if (oldest.done) break;
      const evicted = this.#blocks.get(oldest.value)!;
      this.#blocks.delete(oldest.value);
      this.#bytes -= evicted.length;
      this.#evictions += 1;
    }
    this.#blocks.set(key, own);
    this.#bytes += own.length;
  }
}
