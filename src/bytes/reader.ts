/**
 * A bounds-checked cursor over a byte buffer. Reads past the end never throw:
 * they return zeros/empty values and record the first overrun, so a decoder
 * reads a whole structure and checks `overrun` once at the end
 * (the insomniacslk/dhcp uio.Lexer approach).
 */
export class ByteReader {
  readonly #buf: Uint8Array;
  #pos = 0;
  #overrun: string | undefined;

  constructor(buf: Uint8Array, offset = 0) {
    this.#buf = buf;
    this.#pos = offset;
  }

  get position(): number { return this.#pos; }
  get remaining(): number { return Math.max(0, this.#buf.length - this.#pos); }
  /** Description of the first read past the end, if any. */
  get overrun(): string | undefined { return this.#overrun; }

  #take(n: number, what: string): number | undefined {
    if (n < 0 || this.#pos + n > this.#buf.length) {
      this.#overrun ??= `${what}: needs ${n} bytes at offset ${this.#pos}, have ${this.remaining}`;
      this.#pos = this.#buf.length;
      return undefined;
    }
    const at = this.#pos;
    this.#pos += n;
    return at;
  }

  u8(what = 'u8'): number {
    const at = this.#take(1, what);
    return at === undefined ? 0 : this.#buf[at]!;
  }

  u16(what = 'u16'): number {
    const at = this.#take(2, what);
    return at === undefined ? 0 : (this.#buf[at]! << 8) | this.#buf[at + 1]!;
  }

  u32(what = 'u32'): number {
    const at = this.#take(4, what);
    if (at === undefined) return 0;
    const b = this.#buf;
    return ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
  }

  u64(what = 'u64'): bigint {
    const hi = this.u32(what);
    const lo = this.u32(what);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** A view (not a copy) of the next n bytes. */
  bytes(n: number, what = 'bytes'): Uint8Array {
    const at = this.#take(n, what);
    return at === undefined ? new Uint8Array(0) : this.#buf.subarray(at, at + n);
  }

  rest(): Uint8Array {
    return this.bytes(this.remaining, 'rest');
  }

  skip(n: number, what = 'skip'): void {
    this.#take(n, what);
  }
}
