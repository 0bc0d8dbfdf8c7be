// Each write reserves space first: #ensure may replace #buf, so never read #buf before it.
/** An append-only byte builder that grows as needed; `finish()` returns the bytes written. */
export class ByteWriter {
  #buf: Buffer;
  #len = 0;

  constructor(initial = 256) {
    this.#buf = Buffer.alloc(initial);
  }

  get length(): number { return this.#len; }

  #ensure(n: number): number {
    const need = this.#len + n;
    if (need > this.#buf.length) {
      const next = Buffer.alloc(Math.max(need, this.#buf.length * 2));
      this.#buf.copy(next, 0, 0, this.#len);
      this.#buf = next;
    }
    const at = this.#len;
    this.#len = need;
    return at;
  }

  u8(v: number): this {
    const at = this.#ensure(1);
    this.#buf[at] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    const at = this.#ensure(2);
    this.#buf.writeUInt16BE(v & 0xffff, at);
    return this;
  }

  u32(v: number): this {
    const at = this.#ensure(4);
    this.#buf.writeUInt32BE(v >>> 0, at);
    return this;
  }

  u64(v: bigint): this {
    const at = this.#ensure(8);
    this.#buf.writeBigUInt64BE(BigInt.asUintN(64, v), at);
    return this;
  }

  bytes(b: Uint8Array): this {
    const at = this.#ensure(b.length);
    this.#buf.set(b, at);
    return this;
  }

  /** Writes `b` into exactly `n` bytes: truncated or zero-padded. */
  fixed(b: Uint8Array, n: number): this {
    const at = this.#ensure(n);
    this.#buf.fill(0, at, at + n);
    this.#buf.set(b.subarray(0, n), at);
    return this;
  }

  zeros(n: number): this {
    const at = this.#ensure(n);
    this.#buf.fill(0, at, at + n);
    return this;
  }

  /** Overwrites a u16 already written at `offset` (length fields known only later). */
  patchU16(offset: number, v: number): this {
    this.#buf.writeUInt16BE(v & 0xffff, offset);
    return this;
  }

  finish(): Buffer {
    return this.#buf.subarray(0, this.#len);
  }
}
