/**
 * Minimal PE32+ images with and without an Authenticode certificate table, laid out as
 * PE/COFF §3 says: DOS header ("MZ", e_lfanew at 0x3c), "PE\0\0", the COFF header, the
 * optional header with 16 data directories (4 is the certificate table: file offset, size).
 */
export interface PeOptions {
  machine?: number;
  /** Certificate table contents; none leaves directory 4 empty (an unsigned image). */
  certificate?: { revision?: number; type?: number; bytes?: number };
  /** Directory 4 points here instead of at the appended certificate. */
  certOffset?: number;
  magic?: number;
}

export function peImage(o: PeOptions = {}): Buffer {
  const peOffset = 0x40;
  const optionalSize = 112 + 16 * 8;
  const headerEnd = peOffset + 4 + 20 + optionalSize;
  const body = Buffer.alloc(512, 0xcc); // stands in for the kernel's sections
  const certBytes = o.certificate === undefined ? 0 : 8 + (o.certificate.bytes ?? 64);
  const image = Buffer.alloc(headerEnd + body.length + certBytes);
  image.write('MZ', 0, 'latin1');
  image.writeUInt32LE(peOffset, 0x3c);
  image.write('PE\0\0', peOffset, 'latin1');
  const coff = peOffset + 4;
  image.writeUInt16LE(o.machine ?? 0x8664, coff);
  image.writeUInt16LE(0, coff + 2); // no sections: the checker reads only headers and the table
  image.writeUInt16LE(optionalSize, coff + 16);
  const optional = coff + 20;
  image.writeUInt16LE(o.magic ?? 0x20b, optional);
  image.writeUInt32LE(16, optional + 108); // NumberOfRvaAndSizes
  body.copy(image, headerEnd);
  if (o.certificate !== undefined) {
    const at = headerEnd + body.length;
    image.writeUInt32LE(o.certOffset ?? at, optional + 112 + 4 * 8);
    image.writeUInt32LE(certBytes, optional + 112 + 4 * 8 + 4);
    image.writeUInt32LE(certBytes, at); // dwLength
    image.writeUInt16LE(o.certificate.revision ?? 0x0200, at + 4);
    image.writeUInt16LE(o.certificate.type ?? 0x0002, at + 6);
  }
  return image;
}
