import { ByteReader } from '../../bytes/reader.js';
import { ByteWriter } from '../../bytes/writer.js';
import { MAX_STRING_BYTES, ReplyFlag, ReplyType, STRUCTURED_REPLY_HEADER_BYTES, STRUCTURED_REPLY_MAGIC } from './constants.js';
import { fail, ok, type Decoded } from './decoded.js';

/** The header of one structured reply chunk; `length` bytes of payload follow it. */
export interface StructuredReplyHeader {
  readonly flags: number;
  readonly type: number;
  readonly cookie: bigint;
  readonly length: number;
}

export function encodeStructuredReplyHeader(header: StructuredReplyHeader): Buffer {
  return new ByteWriter(STRUCTURED_REPLY_HEADER_BYTES)
    .u32(STRUCTURED_REPLY_MAGIC)
    .u16(header.flags)
    .u16(header.type)
    .u64(header.cookie)
    .u32(header.length)
    .finish();
}

export function decodeStructuredReplyHeader(bytes: Uint8Array): Decoded<StructuredReplyHeader> {
  const r = new ByteReader(bytes);
  const magic = r.u32('magic');
  const flags = r.u16('flags');
  const type = r.u16('type');
  const cookie = r.u64('cookie');
  const length = r.u32('length');
  if (r.overrun) return fail(`Cannot decode structured reply: ${r.overrun}`);
  if (magic !== STRUCTURED_REPLY_MAGIC) return fail(`Cannot decode structured reply: magic is 0x${magic.toString(16)}`);
  return ok({ flags, type, cookie, length });
}

/**
 * The whole answer to a successful READ as one final NBD_REPLY_TYPE_OFFSET_DATA chunk: header
 * and offset here, the `dataLength` bytes of data sent right after by the caller.
 */
export function encodeOffsetDataPrefix(cookie: bigint, offset: bigint, dataLength: number): Buffer {
  const header = encodeStructuredReplyHeader({ flags: ReplyFlag.DONE, type: ReplyType.OFFSET_DATA, cookie, length: 8 + dataLength });
  return new ByteWriter(STRUCTURED_REPLY_HEADER_BYTES + 8).bytes(header).u64(offset).finish();
}

/** A final NBD_REPLY_TYPE_ERROR chunk: error value, then a message for humans (≤ 4096 bytes). */
export function encodeErrorChunk(cookie: bigint, error: number, message = ''): Buffer {
  const text = Buffer.from(message, 'utf8').subarray(0, MAX_STRING_BYTES);
  const header = encodeStructuredReplyHeader({ flags: ReplyFlag.DONE, type: ReplyType.ERROR, cookie, length: 6 + text.length });
  return new ByteWriter(STRUCTURED_REPLY_HEADER_BYTES + 6 + text.length).bytes(header).u32(error).u16(text.length).bytes(text).finish();
}

export function decodeErrorChunkPayload(payload: Uint8Array): Decoded<{ error: number; message: string }> {
  const r = new ByteReader(payload);
  const error = r.u32('error');
  const length = r.u16('message length');
  const message = r.bytes(length, 'message');
  if (r.overrun) return fail(`Cannot decode error chunk: ${r.overrun}`);
  return ok({ error, message: new TextDecoder().decode(message) });
}
