import { ByteReader } from '../../bytes/reader.js';
import { ByteWriter } from '../../bytes/writer.js';
import { EXPORT_NAME_PAD_BYTES } from './constants.js';
import { fail, ok, type Decoded } from './decoded.js';

/**
 * The answer to NBD_OPT_EXPORT_NAME, which has no reply header and cannot carry an error:
 * size, transmission flags, and 124 reserved zeroes unless the client set NBD_FLAG_C_NO_ZEROES.
 */
export function encodeExportNameReply(size: bigint, transmissionFlags: number, noZeroes: boolean): Buffer {
  const w = new ByteWriter(10 + EXPORT_NAME_PAD_BYTES).u64(size).u16(transmissionFlags);
  if (!noZeroes) w.zeros(EXPORT_NAME_PAD_BYTES);
  return w.finish();
}

export function decodeExportNameReply(bytes: Uint8Array): Decoded<{ size: bigint; flags: number }> {
  const r = new ByteReader(bytes);
  const size = r.u64('size');
  const flags = r.u16('transmission flags');
  if (r.overrun) return fail(`Cannot decode export name reply: ${r.overrun}`);
  return ok({ size, flags });
}
