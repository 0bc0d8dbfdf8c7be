/**
 * Option 77, user class. RFC 3004 §4 makes it a list of length-prefixed instances, but iPXE
 * sends the bare string "iPXE" (option 77, length 4, "iPXE"), as did clients written against
 * the earlier draft. A value that does not split exactly into non-empty RFC 3004 instances is
 * taken as one plain string.
 */
export function decodeUserClass(bytes: Uint8Array): string[] {
  const rfc = splitRfc3004(bytes);
  return rfc ?? [Buffer.from(bytes).toString('latin1')];
}

function splitRfc3004(bytes: Uint8Array): string[] | undefined {
  if (bytes.length === 0) return undefined;
  const out: string[] = [];
  let at = 0;
  while (at < bytes.length) {
    const length = bytes[at]!;
    if (length === 0 || at + 1 + length > bytes.length) return undefined;
    out.push(Buffer.from(bytes.subarray(at + 1, at + 1 + length)).toString('latin1'));
    at += 1 + length;
  }
  return out;
}

/** RFC 3004 form; each class must be 1–255 bytes. */
export function encodeUserClass(classes: string[]): Buffer {
  const parts: Buffer[] = [];
  for (const c of classes) {
    const data = Buffer.from(c, 'latin1');
    if (data.length === 0 || data.length > 255) {
      throw new RangeError(`Cannot encode user class "${c}": each class must be 1-255 bytes`);
    }
    parts.push(Buffer.from([data.length]), data);
  }
  return Buffer.concat(parts);
}
