import { ipv4FromBytes, ipv4ToBytes } from './ipv4-bytes.js';
import type { DhcpPacket } from './packet.js';

/** How one option's bytes map to a typed value. `decode` returns undefined for malformed bytes. */
export interface OptionSpec<T> {
  readonly code: number;
  decode(bytes: Uint8Array): T | undefined;
  encode(value: T): Buffer;
}

/** The option's typed value; undefined when absent or malformed. */
export function getOption<T>(packet: DhcpPacket, spec: OptionSpec<T>): T | undefined {
  const bytes = packet.options.get(spec.code);
  return bytes === undefined ? undefined : spec.decode(bytes);
}

export function setOption<T>(packet: DhcpPacket, spec: OptionSpec<T>, value: T): void {
  packet.options.set(spec.code, spec.encode(value));
}

export function ipv4Option(code: number): OptionSpec<string> {
  return {
    code,
    decode: (b) => (b.length === 4 ? ipv4FromBytes(b) : undefined),
    encode: (v) => ipv4ToBytes(v),
  };
}

export function ipv4ListOption(code: number): OptionSpec<string[]> {
  return {
    code,
    decode: (b) => {
      if (b.length === 0 || b.length % 4 !== 0) return undefined;
      const out: string[] = [];
      for (let at = 0; at < b.length; at += 4) out.push(ipv4FromBytes(b, at));
      return out;
    },
    encode: (v) => Buffer.concat(v.map(ipv4ToBytes)),
  };
}

/**
 * NVT ASCII strings (RFC 2132 §2). Some clients NUL-terminate them anyway (RFC 2132 says they
 * SHOULD NOT), so trailing NULs are dropped.
 */
export function stringOption(code: number): OptionSpec<string> {
  return {
    code,
    decode: (b) => {
      let end = b.length;
      while (end > 0 && b[end - 1] === 0) end--;
      return Buffer.from(b.subarray(0, end)).toString('utf8');
    },
    encode: (v) => Buffer.from(v, 'utf8'),
  };
}

export function u8Option(code: number): OptionSpec<number> {
  return {
    code,
    decode: (b) => (b.length === 1 ? b[0]! : undefined),
    encode: (v) => Buffer.from([v & 0xff]),
  };
}

export function u16Option(code: number): OptionSpec<number> {
  return {
    code,
    decode: (b) => (b.length === 2 ? Buffer.from(b).readUInt16BE(0) : undefined),
    encode: (v) => {
      const out = Buffer.alloc(2);
      out.writeUInt16BE(v & 0xffff);
      return out;
    },
  };
}

export function u32Option(code: number): OptionSpec<number> {
  return {
    code,
    decode: (b) => (b.length === 4 ? Buffer.from(b).readUInt32BE(0) : undefined),
    encode: (v) => {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(v >>> 0);
      return out;
    },
  };
}

export function u8ListOption(code: number): OptionSpec<number[]> {
  return {
    code,
    decode: (b) => [...b],
    encode: (v) => Buffer.from(v.map((n) => n & 0xff)),
  };
}

export function u16ListOption(code: number): OptionSpec<number[]> {
  return {
    code,
    decode: (b) => {
      if (b.length === 0 || b.length % 2 !== 0) return undefined;
      const out: number[] = [];
      for (let at = 0; at < b.length; at += 2) out.push((b[at]! << 8) | b[at + 1]!);
      return out;
    },
    encode: (v) => {
      const out = Buffer.alloc(v.length * 2);
      v.forEach((n, i) => out.writeUInt16BE(n & 0xffff, i * 2));
      return out;
    },
  };
}

export function bytesOption(code: number): OptionSpec<Buffer> {
  return { code, decode: (b) => Buffer.from(b), encode: (v) => Buffer.from(v) };
}
