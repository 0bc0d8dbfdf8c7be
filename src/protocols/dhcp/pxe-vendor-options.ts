import { ByteWriter } from '../../bytes/writer.js';
import { parseOptionArea, writeOptionArea } from './option-area.js';

/**
 * Option 43 as PXE uses it (PXE 2.1 §2.2.5): the same code/length/value layout as DHCP options,
 * closed by 255. Decodes to sub-option code → value; undefined when the layout is broken.
 */
export function decodePxeVendorOptions(bytes: Uint8Array): Map<number, Buffer> | undefined {
  const parsed = parseOptionArea(bytes, 'option 43', false);
  if (!parsed.ok) return undefined;
  const out = new Map<number, Buffer>();
  for (const { code, value } of parsed.options) out.set(code, Buffer.from(value));
  return out;
}

export function encodePxeVendorOptions(subOptions: ReadonlyMap<number, Uint8Array>): Buffer {
  const w = new ByteWriter(64);
  writeOptionArea(w, subOptions);
  return Buffer.from(w.finish());
}
