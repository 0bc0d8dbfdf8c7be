import { ByteReader } from '../../bytes/reader.js';
import { ByteWriter } from '../../bytes/writer.js';
import { CLIENT_FLAGS_BYTES, GREETING_BYTES, HandshakeFlag, IHAVEOPT, NBD_MAGIC } from './constants.js';
import { fail, ok, type Decoded } from './decoded.js';

/** What this server offers in every greeting: fixed newstyle, and dropping the 124 zeroes. */
export const SERVER_HANDSHAKE_FLAGS = HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES;

/** The newstyle greeting: NBDMAGIC, IHAVEOPT, handshake flags. */
export function encodeGreeting(handshakeFlags: number = SERVER_HANDSHAKE_FLAGS): Buffer {
  return new ByteWriter(GREETING_BYTES).u64(NBD_MAGIC).u64(IHAVEOPT).u16(handshakeFlags).finish();
}

/** Client side of the greeting; oldstyle servers (cliserv_magic instead of IHAVEOPT) are refused. */
export function decodeGreeting(bytes: Uint8Array): Decoded<{ handshakeFlags: number }> {
  const r = new ByteReader(bytes);
  const magic = r.u64('magic');
  const second = r.u64('option magic');
  const handshakeFlags = r.u16('handshake flags');
  if (r.overrun) return fail(`Cannot decode greeting: ${r.overrun}`);
  if (magic !== NBD_MAGIC) return fail(`Cannot decode greeting: magic is 0x${magic.toString(16)}, not NBDMAGIC`);
  if (second !== IHAVEOPT) return fail(`Cannot decode greeting: second magic is 0x${second.toString(16)}, not IHAVEOPT`);
  return ok({ handshakeFlags });
}

export function encodeClientFlags(flags: number): Buffer {
  return new ByteWriter(CLIENT_FLAGS_BYTES).u32(flags).finish();
}

/** The 32-bit client flags; whether the bits are acceptable is the handshake's decision. */
export function decodeClientFlags(bytes: Uint8Array): Decoded<number> {
  const r = new ByteReader(bytes);
  const flags = r.u32('client flags');
  if (r.overrun) return fail(`Cannot decode client flags: ${r.overrun}`);
  return ok(flags);
}
