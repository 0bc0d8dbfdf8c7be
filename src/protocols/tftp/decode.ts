import { ByteReader } from '../../bytes/reader.js';
import {
  MAX_FILENAME_BYTES,
  MAX_OPTION_BYTES,
  Opcode,
  type TftpOption,
  type TftpPacket,
} from './packet.js';

export type DecodeResult =
  | { readonly ok: true; readonly packet: TftpPacket }
  /** `opcode` is set when the first two bytes were readable, so a server can tell a bad request from noise. */
  | { readonly ok: false; readonly error: string; readonly opcode?: number };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8');

/** Turns one UDP payload into a packet. Never throws: every malformation is an `ok: false`. */
export function decodeTftpPacket(bytes: Uint8Array): DecodeResult {
  const r = new ByteReader(bytes);
  const opcode = r.u16('opcode');
  if (r.overrun) return { ok: false, error: `Cannot decode packet: ${bytes.length} bytes is shorter than an opcode` };
  const fail = (error: string): DecodeResult => ({ ok: false, error, opcode });

  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      const kind = opcode === Opcode.RRQ ? 'RRQ' : 'WRQ';
      const fields = splitNulTerminated(r.rest());
      if (typeof fields === 'string') return fail(`Cannot decode ${kind}: ${fields}`);
      const [filenameBytes, modeBytes, ...optionBytes] = fields;
      if (filenameBytes === undefined || modeBytes === undefined) return fail(`Cannot decode ${kind}: mode is missing`);
      if (filenameBytes.length === 0) return fail(`Cannot decode ${kind}: filename is empty`);
      if (filenameBytes.length > MAX_FILENAME_BYTES) {
        return fail(`Cannot decode ${kind}: filename is ${filenameBytes.length} bytes, limit ${MAX_FILENAME_BYTES}`);
      }
      if (modeBytes.length === 0) return fail(`Cannot decode ${kind}: mode is empty`);
      const filename = decodeText(filenameBytes);
      const mode = decodeText(modeBytes);
      if (filename === undefined) return fail(`Cannot decode ${kind}: filename is not UTF-8`);
      if (mode === undefined) return fail(`Cannot decode ${kind}: mode is not UTF-8`);
      const options = decodeOptions(optionBytes);
      if (typeof options === 'string') return fail(`Cannot decode ${kind}: ${options}`);
      return { ok: true, packet: { type: opcode === Opcode.RRQ ? 'rrq' : 'wrq', filename, mode, options } };
    }
    case Opcode.DATA: {
      const block = r.u16('block');
      if (r.overrun) return fail('Cannot decode DATA: block number is truncated');
      return { ok: true, packet: { type: 'data', block, data: r.rest() } };
    }
    case Opcode.ACK: {
      const block = r.u16('block');
      if (r.overrun) return fail('Cannot decode ACK: block number is truncated');
      // Bytes after the block number are ignored, as tftp-hpa and dnsmasq do: an ACK
      // carries nothing else, and refusing a padded one would only stall the transfer.
      return { ok: true, packet: { type: 'ack', block } };
    }
    case Opcode.ERROR: {
      const code = r.u16('code');
      if (r.overrun) return fail('Cannot decode ERROR: error code is truncated');
      // The message is only for logs, and any ERROR ends a transfer (RFC 1350 §7), so a
      // message without its NUL or with bad UTF-8 is accepted rather than ignored.
      const rest = r.rest();
      const nul = rest.indexOf(0);
      const message = lenientUtf8.decode(nul === -1 ? rest : rest.subarray(0, nul));
      return { ok: true, packet: { type: 'error', code, message } };
    }
    case Opcode.OACK: {
      const fields = splitNulTerminated(r.rest());
      if (typeof fields === 'string') return fail(`Cannot decode OACK: ${fields}`);
      // RFC 2347: an OACK lists at least the options the server accepted; an empty one is meaningless.
      if (fields.length === 0) return fail('Cannot decode OACK: no options');
      const options = decodeOptions(fields);
      if (typeof options === 'string') return fail(`Cannot decode OACK: ${options}`);
      return { ok: true, packet: { type: 'oack', options } };
    }
    default:
      return fail(`Cannot decode packet: unknown opcode ${opcode}`);
  }
}

/** Splits into NUL-terminated fields; a string return is the error (bytes after the last NUL). */
function splitNulTerminated(bytes: Uint8Array): Uint8Array[] | string {
  const fields: Uint8Array[] = [];
  let start = 0;
  for (;;) {
    const nul = bytes.indexOf(0, start);
    if (nul === -1) break;
    fields.push(bytes.subarray(start, nul));
    start = nul + 1;
  }
  if (start < bytes.length) return `${bytes.length - start} bytes after the last NUL terminator`;
  return fields;
}

function decodeOptions(fields: readonly Uint8Array[]): TftpOption[] | string {
  if (fields.length % 2 !== 0) return `option "${decodeText(fields.at(-1)!) ?? '?'}" has no value`;
  const options: TftpOption[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < fields.length; i += 2) {
    const nameBytes = fields[i]!;
    const valueBytes = fields[i + 1]!;
    if (nameBytes.length === 0) return 'option name is empty';
    if (nameBytes.length > MAX_OPTION_BYTES) return `option name is ${nameBytes.length} bytes, limit ${MAX_OPTION_BYTES}`;
    if (valueBytes.length > MAX_OPTION_BYTES) return `option value is ${valueBytes.length} bytes, limit ${MAX_OPTION_BYTES}`;
    const name = decodeText(nameBytes);
    const value = decodeText(valueBytes);
    if (name === undefined || value === undefined) return 'option is not UTF-8';
    // RFC 2347: "an option may only be specified once", and option names are case-insensitive.
    const key = name.toLowerCase();
    if (seen.has(key)) return `option "${key}" appears twice`;
    seen.add(key);
    options.push({ name, value });
  }
  return options;
}

function decodeText(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}
