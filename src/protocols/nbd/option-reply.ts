import { ByteReader } from '../../bytes/reader.js';
import { ByteWriter } from '../../bytes/writer.js';
import { Info, OPTION_REPLY_HEADER_BYTES, OPTION_REPLY_MAGIC } from './constants.js';
import { fail, ok, type Decoded } from './decoded.js';

export interface OptionReplyHeader {
  readonly option: number;
  readonly type: number;
  readonly length: number;
}

/** One fixed-newstyle option reply: magic, the option answered, reply type, data length, data. */
export function encodeOptionReply(option: number, type: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  return new ByteWriter(OPTION_REPLY_HEADER_BYTES + data.length)
    .u64(OPTION_REPLY_MAGIC)
    .u32(option)
    .u32(type)
    .u32(data.length)
    .bytes(data)
    .finish();
}

export function decodeOptionReplyHeader(bytes: Uint8Array): Decoded<OptionReplyHeader> {
  const r = new ByteReader(bytes);
  const magic = r.u64('magic');
  const option = r.u32('option');
  const type = r.u32('reply type');
  const length = r.u32('length');
  if (r.overrun) return fail(`Cannot decode option reply: ${r.overrun}`);
  if (magic !== OPTION_REPLY_MAGIC) return fail(`Cannot decode option reply: magic is 0x${magic.toString(16)}`);
  return ok({ option, type, length });
}

/** NBD_REP_SERVER data for NBD_OPT_LIST: name length, name, then an optional description. */
export function encodeServerReplyData(name: string, description = ''): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const descriptionBytes = Buffer.from(description, 'utf8');
  return new ByteWriter(4 + nameBytes.length + descriptionBytes.length)
    .u32(nameBytes.length)
    .bytes(nameBytes)
    .bytes(descriptionBytes)
    .finish();
}

export function decodeServerReplyData(data: Uint8Array): Decoded<{ name: string; description: string }> {
  const r = new ByteReader(data);
  const length = r.u32('name length');
  const name = r.bytes(length, 'name');
  if (r.overrun) return fail(`Cannot decode server reply: ${r.overrun}`);
  const text = new TextDecoder();
  return ok({ name: text.decode(name), description: text.decode(r.rest()) });
}

/** NBD_INFO_EXPORT: the same size and flags NBD_OPT_EXPORT_NAME would send, without padding. */
export function encodeInfoExport(size: bigint, transmissionFlags: number): Buffer {
  return new ByteWriter(12).u16(Info.EXPORT).u64(size).u16(transmissionFlags).finish();
}

export function encodeInfoName(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  return new ByteWriter(2 + bytes.length).u16(Info.NAME).bytes(bytes).finish();
}

export function encodeInfoDescription(description: string): Buffer {
  const bytes = Buffer.from(description, 'utf8');
  return new ByteWriter(2 + bytes.length).u16(Info.DESCRIPTION).bytes(bytes).finish();
}

export function encodeInfoBlockSize(minimum: number, preferred: number, maximum: number): Buffer {
  return new ByteWriter(14).u16(Info.BLOCK_SIZE).u32(minimum).u32(preferred).u32(maximum).finish();
}

/** An NBD_REP_INFO payload as a client reads it; unknown types keep their raw bytes. */
export type InfoReply =
  | { readonly type: 'export'; readonly size: bigint; readonly flags: number }
  | { readonly type: 'name'; readonly name: string }
  | { readonly type: 'description'; readonly description: string }
  | { readonly type: 'block-size'; readonly minimum: number; readonly preferred: number; readonly maximum: number }
  | { readonly type: 'unknown'; readonly info: number; readonly data: Uint8Array };

export function decodeInfoReply(data: Uint8Array): Decoded<InfoReply> {
  const r = new ByteReader(data);
  const info = r.u16('info type');
  if (r.overrun) return fail(`Cannot decode info reply: ${r.overrun}`);
  const text = new TextDecoder();
  let value: InfoReply;
  switch (info) {
    case Info.EXPORT:
      value = { type: 'export', size: r.u64('size'), flags: r.u16('flags') };
      break;
    case Info.NAME:
      value = { type: 'name', name: text.decode(r.rest()) };
      break;
    case Info.DESCRIPTION:
      value = { type: 'description', description: text.decode(r.rest()) };
      break;
    case Info.BLOCK_SIZE:
      value = { type: 'block-size', minimum: r.u32('minimum'), preferred: r.u32('preferred'), maximum: r.u32('maximum') };
      break;
    default:
      return ok({ type: 'unknown', info, data: r.rest() });
  }
  if (r.overrun) return fail(`Cannot decode info reply: ${r.overrun}`);
  if (r.remaining !== 0) return fail(`Cannot decode info reply: ${r.remaining} bytes after info type ${info}`);
  return ok(value);
}
