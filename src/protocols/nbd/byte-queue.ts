/**
 * Chunks received from a stream, taken back out in exact amounts (the undici websocket
 * receiver's `consume(n)`). Nothing is copied unless a take spans chunks.
 */
export class ByteQueue {
  readonly #chunks: Buffer[] = [];
  #length = 0;

  /** Bytes queued and not yet taken. */
  get length(): number { return this.#length; }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** Removes and returns exactly `n` bytes; the caller checks `length` first. */
  consume(n: number): Buffer {
    if (n > this.#length) throw new RangeError(`Cannot consume ${n} bytes: ${this.#length} queued`);
    this.#length -= n;
    const first = this.#chunks[0];
    if (n === 0 || first === undefined) return Buffer.alloc(0);
    if (first.length === n) return this.#chunks.shift()!;
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, take);
      filled += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    return out;
  }

  /** Drops up to `n` bytes without copying them; returns how many were dropped. */
  discard(n: number): number {
    let dropped = 0;
    while (dropped < n && this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(chunk.length, n - dropped);
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
      dropped += take;
    }
    this.#length -= dropped;
    return dropped;
  }
}
