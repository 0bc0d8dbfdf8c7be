import { ByteReader } from '../../bytes/reader.js';
import { ByteWriter } from '../../bytes/writer.js';
import { ipv4FromBytes, ipv4ToBytes } from './ipv4-bytes.js';
import { OptionCode } from './option-codes.js';
import { checkOptionLengths } from './option-lengths.js';
import { concatenateOptions, parseOptionArea, writeOptionArea, type OptionInstance } from './option-area.js';

/**
 * A BOOTP/DHCP message (RFC 2131 §2, figure 1). Options are keyed by code in order of first
 * appearance, repeated instances already joined (RFC 3396) and overloaded `file`/`sname`
 * contents already merged in, so option 52 never appears here.
 */
export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** All 16 bytes of the field; the hardware address is the first `hlen`. */
  chaddr: Buffer;
  sname: string;
  file: string;
  options: Map<number, Buffer>;
}

export type DhcpDecodeResult = { ok: true; packet: DhcpPacket } | { ok: false; error: string };

export const BootOp = { Request: 1, Reply: 2 } as const;
/** RFC 2131 §2: the leftmost bit of `flags` asks for broadcast replies. */
export const BROADCAST_FLAG = 0x8000;
/** RFC 2131 §3: 99.130.83.99 at the start of the options field. */
export const MAGIC_COOKIE = 0x63825363;

const SNAME_BYTES = 64;
const FILE_BYTES = 128;
/** op through file, before the magic cookie. */
export const BOOTP_HEADER_BYTES = 236;
/**
 * Nothing a DHCP client sends comes close: it must fit an unfragmented datagram (576 bytes
 * unless option 57 raises it, and never above an Ethernet MTU). A bigger "packet" is garbage,
 * and the cap also bounds the work the option parser does.
 */
export const MAX_DHCP_PACKET_BYTES = 4096;
/**
 * RFC 1542 §2.1: BOOTP relays and old clients may drop messages shorter than the 300 bytes of
 * an RFC 951 BOOTP packet, so replies are zero-padded to it.
 */
const MIN_ENCODED_BYTES = 300;

export function decodeDhcpPacket(bytes: Uint8Array): DhcpDecodeResult {
  try {
    return decodeUnchecked(bytes);
  } catch (err) {
    // The decoder is written not to throw; this keeps the contract if a bug slips in.
    return { ok: false, error: `decoder bug: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function decodeUnchecked(bytes: Uint8Array): DhcpDecodeResult {
  if (bytes.length > MAX_DHCP_PACKET_BYTES) {
    return { ok: false, error: `packet too large: ${bytes.length} bytes (max ${MAX_DHCP_PACKET_BYTES})` };
  }
  const r = new ByteReader(bytes);
  const op = r.u8('op');
  const htype = r.u8('htype');
  const hlen = r.u8('hlen');
  const hops = r.u8('hops');
  const xid = r.u32('xid');
  const secs = r.u16('secs');
  const flags = r.u16('flags');
  const ciaddr = ipv4FromBytes(r.bytes(4, 'ciaddr'));
  const yiaddr = ipv4FromBytes(r.bytes(4, 'yiaddr'));
  const siaddr = ipv4FromBytes(r.bytes(4, 'siaddr'));
  const giaddr = ipv4FromBytes(r.bytes(4, 'giaddr'));
  const chaddr = Buffer.from(r.bytes(16, 'chaddr'));
  const snameField = r.bytes(SNAME_BYTES, 'sname');
  const fileField = r.bytes(FILE_BYTES, 'file');
  const cookie = r.u32('magic cookie');
  const optionsField = r.rest();
  if (r.overrun !== undefined) return { ok: false, error: `truncated packet: ${r.overrun}` };
  if (op !== BootOp.Request && op !== BootOp.Reply) return { ok: false, error: `invalid op ${op}` };
  if (hlen > 16) return { ok: false, error: `invalid hlen ${hlen} (chaddr holds 16 bytes)` };
  if (cookie !== MAGIC_COOKIE) {
    return { ok: false, error: `no DHCP magic cookie (found 0x${cookie.toString(16).padStart(8, '0')})` };
  }

  const main = parseOptionArea(optionsField, 'options', true);
  if (!main.ok) return main;
  const instances: OptionInstance[] = [...main.options];

  // RFC 2131 §4.1 and RFC 2132 §9.3: option 52 says `file` (1), `sname` (2) or both (3) carry
  // more options, read after the options field, `file` before `sname`.
  const overloadParts = main.options.filter((o) => o.code === OptionCode.OptionOverload);
  let overload = 0;
  if (overloadParts.length > 0) {
    const value = Buffer.concat(overloadParts.map((o) => o.value));
    if (value.length !== 1 || value[0]! < 1 || value[0]! > 3) {
      return { ok: false, error: `invalid option overload value ${value.toString('hex')}` };
    }
    overload = value[0]!;
    for (const [bit, field, where] of [[1, fileField, 'file'], [2, snameField, 'sname']] as const) {
      if ((overload & bit) === 0) continue;
      const extra = parseOptionArea(field, where, false);
      if (!extra.ok) return extra;
      if (extra.options.some((o) => o.code === OptionCode.OptionOverload)) {
        return { ok: false, error: `option overload repeated inside the ${where} field` };
      }
      instances.push(...extra.options);
    }
  }

  const options = concatenateOptions(instances);
  options.delete(OptionCode.OptionOverload);
  const lengthError = checkOptionLengths(options);
  if (lengthError !== undefined) return { ok: false, error: lengthError };

  const sname = (overload & 2) !== 0 ? '' : fieldString(snameField);
  const file = (overload & 1) !== 0 ? '' : fieldString(fileField);
  if (sname === undefined) return { ok: false, error: 'sname field is not NUL-terminated' };
  if (file === undefined) return { ok: false, error: 'file field is not NUL-terminated' };

  return {
    ok: true,
    packet: { op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname, file, options },
  };
}

/** RFC 2131 §2: `sname` and `file` are "null terminated strings". */
function fieldString(field: Uint8Array): string | undefined {
  const nul = field.indexOf(0);
  if (nul < 0) return undefined;
  return Buffer.from(field.subarray(0, nul)).toString('latin1');
}

/**
 * Throws RangeError on values that cannot be represented (sname over 63 bytes, file over 127,
 * option code 0 or 255, malformed addresses): those are bugs in the caller, not network input.
 * Never uses option overload: replies here are far from the 576-byte floor.
 */
export function encodeDhcpPacket(packet: DhcpPacket): Buffer {
  const sname = Buffer.from(packet.sname, 'latin1');
  const file = Buffer.from(packet.file, 'latin1');
  if (sname.length >= SNAME_BYTES) throw new RangeError(`Cannot encode sname: ${sname.length} bytes (max 63)`);
  if (file.length >= FILE_BYTES) throw new RangeError(`Cannot encode file: ${file.length} bytes (max 127)`);
  if (packet.chaddr.length > 16) throw new RangeError(`Cannot encode chaddr: ${packet.chaddr.length} bytes (max 16)`);
  const w = new ByteWriter(576);
  w.u8(packet.op).u8(packet.htype).u8(packet.hlen).u8(packet.hops);
  w.u32(packet.xid).u16(packet.secs).u16(packet.flags);
  w.bytes(ipv4ToBytes(packet.ciaddr)).bytes(ipv4ToBytes(packet.yiaddr));
  w.bytes(ipv4ToBytes(packet.siaddr)).bytes(ipv4ToBytes(packet.giaddr));
  w.fixed(packet.chaddr, 16).fixed(sname, SNAME_BYTES).fixed(file, FILE_BYTES);
  w.u32(MAGIC_COOKIE);
  writeOptions(w, packet.options);
  if (w.length < MIN_ENCODED_BYTES) w.zeros(MIN_ENCODED_BYTES - w.length);
  return Buffer.from(w.finish());
}

function writeOptions(w: ByteWriter, options: ReadonlyMap<number, Uint8Array>): void {
  if (options.has(OptionCode.OptionOverload)) {
    throw new RangeError('Cannot encode option 52: the encoder never overloads file/sname');
  }
  writeOptionArea(w, options);
}

/** The client's hardware address from chaddr (hlen bytes), as "aa:bb:cc:dd:ee:ff". */
export function macOf(packet: DhcpPacket): string {
  const n = Math.min(packet.hlen, 16);
  return [...packet.chaddr.subarray(0, n)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
