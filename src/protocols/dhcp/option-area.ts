import { ByteReader } from '../../bytes/reader.js';
import { ByteWriter } from '../../bytes/writer.js';
import { OptionCode } from './option-codes.js';

export type OptionInstance = { code: number; value: Uint8Array };

/**
 * Splits one option area (the options field, or an overloaded `file`/`sname` field) into
 * code/value instances, skipping pads and stopping at the end option.
 * `endRequired`: RFC 2131 §4.1 requires the options field to close with the end option; an
 * overloaded `file`/`sname` field may instead simply run out (firmware pads them with zeros).
 */
export function parseOptionArea(
  area: Uint8Array,
  where: string,
  endRequired: boolean,
): { ok: true; options: OptionInstance[] } | { ok: false; error: string } {
  const reader = new ByteReader(area);
  const options: OptionInstance[] = [];
  while (reader.remaining > 0) {
    const at = reader.position;
    const code = reader.u8();
    if (code === OptionCode.Pad) continue;
    if (code === OptionCode.End) return { ok: true, options };
    const length = reader.u8(`option ${code} length in ${where}`);
    const value = reader.bytes(length, `option ${code} value in ${where}`);
    if (reader.overrun !== undefined) {
      return { ok: false, error: `option ${code} at ${where}+${at} runs past the end of ${where} (length ${length})` };
    }
    options.push({ code, value });
  }
  if (endRequired) return { ok: false, error: `${where} has no end option (255)` };
  return { ok: true, options };
}

/**
 * Joins repeated instances of one option into one value, in order of first appearance
 * (RFC 3396 §5: a value longer than 255 bytes is sent as consecutive instances of the code).
 */
export function concatenateOptions(instances: OptionInstance[]): Map<number, Buffer> {
  const parts = new Map<number, Uint8Array[]>();
  for (const { code, value } of instances) {
    const list = parts.get(code);
    if (list) list.push(value);
    else parts.set(code, [value]);
  }
  const joined = new Map<number, Buffer>();
  for (const [code, list] of parts) joined.set(code, Buffer.concat(list));
  return joined;
}

/** Writes options then the end option; values over 255 bytes are split per RFC 3396 §6. */
export function writeOptionArea(writer: ByteWriter, options: ReadonlyMap<number, Uint8Array>): void {
  for (const [code, value] of options) {
    if (!Number.isInteger(code) || code <= OptionCode.Pad || code >= OptionCode.End) {
      throw new RangeError(`Cannot encode DHCP option ${code}: pad and end are framing, not options`);
    }
    if (value.length === 0) {
      writer.u8(code).u8(0);
      continue;
    }
    for (let at = 0; at < value.length; at += 255) {
      const chunk = value.subarray(at, Math.min(at + 255, value.length));
      writer.u8(code).u8(chunk.length).bytes(chunk);
    }
  }
  writer.u8(OptionCode.End);
}
