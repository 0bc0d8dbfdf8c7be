import { ByteReader } from '../../bytes/reader.js';
import { ByteWriter } from '../../bytes/writer.js';
import { REQUEST_BYTES, REQUEST_MAGIC, SIMPLE_REPLY_BYTES, SIMPLE_REPLY_MAGIC } from './constants.js';
import { fail, ok, type Decoded } from './decoded.js';

/** A transmission-phase request header; a WRITE's payload follows it on the wire. */
export interface NbdRequest {
  readonly flags: number;
  readonly command: number;
  /** Opaque to the server ("handle" in older spec text), echoed in the reply. */
  readonly cookie: bigint;
  readonly offset: bigint;
  readonly length: number;
}

export interface SimpleReply {
  readonly error: number;
  readonly cookie: bigint;
}

export function encodeRequest(request: NbdRequest): Buffer {
  return new ByteWriter(REQUEST_BYTES)
    .u32(REQUEST_MAGIC)
    .u16(request.flags)
    .u16(request.command)
    .u64(request.cookie)
    .u64(request.offset)
    .u32(request.length)
    .finish();
}

export function decodeRequest(bytes: Uint8Array): Decoded<NbdRequest> {
  const r = new ByteReader(bytes);
  const magic = r.u32('magic');
  const flags = r.u16('flags');
  const command = r.u16('type');
  const cookie = r.u64('cookie');
  const offset = r.u64('offset');
  const length = r.u32('length');
  if (r.overrun) return fail(`Cannot decode request: ${r.overrun}`);
  if (magic !== REQUEST_MAGIC) return fail(`Cannot decode request: magic is 0x${magic.toString(16)}, not 0x${REQUEST_MAGIC.toString(16)}`);
  return ok({ flags, command, cookie, offset, length });
}

/** The 16-byte simple reply header; a successful READ's data follows it. */
export function encodeSimpleReply(error: number, cookie: bigint): Buffer {
  return new ByteWriter(SIMPLE_REPLY_BYTES).u32(SIMPLE_REPLY_MAGIC).u32(error).u64(cookie).finish();
}

export function decodeSimpleReply(bytes: Uint8Array): Decoded<SimpleReply> {
  const r = new ByteReader(bytes);
  const magic = r.u32('magic');
  const error = r.u32('error');
  const cookie = r.u64('cookie');
  if (r.overrun) return fail(`Cannot decode simple reply: ${r.overrun}`);
  if (magic !== SIMPLE_REPLY_MAGIC) return fail(`Cannot decode simple reply: magic is 0x${magic.toString(16)}`);
  return ok({ error, cookie });
}
