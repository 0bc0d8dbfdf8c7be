import { parseIpv4 } from '../../net/ipv4.js';

/** IPv4 addresses as the 4 network-order bytes of BOOTP fields and options. */
export const ZERO_IPV4 = '0.0.0.0';

/** Throws on text that is not an address: that is a bug in the caller, not network input. */
export function ipv4ToBytes(text: string): Buffer {
  const value = parseIpv4(text);
  if (value === undefined) throw new RangeError(`Cannot encode IPv4 address: "${text}" is not a dotted quad`);
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

export function ipv4FromBytes(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset] ?? 0}.${bytes[offset + 1] ?? 0}.${bytes[offset + 2] ?? 0}.${bytes[offset + 3] ?? 0}`;
}
