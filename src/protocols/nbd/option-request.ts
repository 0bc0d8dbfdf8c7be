import { ByteReader } from '../../bytes/reader.js';
import { ByteWriter } from '../../bytes/writer.js';
import { IHAVEOPT, MAX_STRING_BYTES, OPTION_HEADER_BYTES } from './constants.js';
import { fail, ok, type Decoded } from './decoded.js';

/** The fixed part of an option request; `length` bytes of option data follow it. */
export interface OptionHeader {
  readonly option: number;
  readonly length: number;
}

/** The data of NBD_OPT_INFO and NBD_OPT_GO. */
export interface InfoRequest {
  /** Raw bytes: whether they form a name we could export is `exportName`'s decision. */
  readonly name: Uint8Array;
  readonly infos: readonly number[];
}

/** A whole option request as a client sends it. */
export function encodeOptionRequest(option: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  return new ByteWriter(OPTION_HEADER_BYTES + data.length)
    .u64(IHAVEOPT)
    .u32(option)
    .u32(data.length)
    .bytes(data)
    .finish();
}

export function decodeOptionHeader(bytes: Uint8Array): Decoded<OptionHeader> {
  const r = new ByteReader(bytes);
  const magic = r.u64('magic');
  const option = r.u32('option');
  const length = r.u32('length');
  if (r.overrun) return fail(`Cannot decode option header: ${r.overrun}`);
  if (magic !== IHAVEOPT) return fail(`Cannot decode option header: magic is 0x${magic.toString(16)}, not IHAVEOPT`);
  return ok({ option, length });
}

export function encodeInfoRequest(name: string | Uint8Array, infos: readonly number[] = []): Buffer {
  const nameBytes = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
  const w = new ByteWriter(4 + nameBytes.length + 2 + 2 * infos.length).u32(nameBytes.length).bytes(nameBytes).u16(infos.length);
  for (const info of infos) w.u16(info);
  return w.finish();
}

/**
 * GO/INFO data: name length, name, count, count × info type. The lengths must account for
 * every byte of the option data exactly, or the request is malformed (NBD_REP_ERR_INVALID).
 */
export function decodeInfoRequest(data: Uint8Array): Decoded<InfoRequest> {
  const r = new ByteReader(data);
  const nameLength = r.u32('name length');
  if (r.overrun) return fail(`Cannot decode info request: ${r.overrun}`);
  // Compared before reading so a huge length cannot even be attempted; the spec's wording:
  // the name length "MUST be no larger than the option data length - 6".
  if (nameLength > data.length - 6) {
    return fail(`Cannot decode info request: name length ${nameLength} does not fit ${data.length} bytes of data`);
  }
  const name = r.bytes(nameLength, 'name');
  const count = r.u16('info count');
  if (r.remaining !== count * 2) {
    return fail(`Cannot decode info request: ${count} info requests need ${count * 2} bytes, have ${r.remaining}`);
  }
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(r.u16('info'));
  if (r.overrun) return fail(`Cannot decode info request: ${r.overrun}`);
  return ok({ name, infos });
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The export name a client asked for, or undefined when no export could carry it: over the
 * spec's 4096-byte string limit, a NUL inside, or not UTF-8 ("a string … MUST NOT contain NUL").
 */
export function exportName(bytes: Uint8Array): string | undefined {
  if (bytes.length > MAX_STRING_BYTES || bytes.includes(0)) return undefined;
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}
