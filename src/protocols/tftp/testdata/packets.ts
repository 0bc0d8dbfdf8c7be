// Golden TFTP packets, one field per line. The same arrays seed the mutation test.

const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];

/** pxelinux asking for itself with no options (RFC 1350 RRQ). */
export const rrqPlain = Uint8Array.from([
  0x00, 0x01,             // opcode RRQ
  ...ascii('pxelinux.0'), // filename
  0x00,
  ...ascii('octet'),      // mode
  0x00,
]);

/** An iPXE-style RRQ with RFC 2347 options: tsize, blksize, windowsize. */
export const rrqOptions = Uint8Array.from([
  0x00, 0x01,             // opcode RRQ
  ...ascii('ipxe.efi'),   // filename
  0x00,
  ...ascii('octet'),      // mode
  0x00,
  ...ascii('tsize'),      // option name (RFC 2349)
  0x00,
  ...ascii('0'),          // value: "tell me the size"
  0x00,
  ...ascii('blksize'),    // option name (RFC 2348)
  0x00,
  ...ascii('1468'),       // value
  0x00,
  ...ascii('windowsize'), // option name (RFC 7440)
  0x00,
  ...ascii('4'),          // value
  0x00,
]);

/** A write request in netascii mode (refused by the read-only server, but decodable). */
export const wrqNetascii = Uint8Array.from([
  0x00, 0x02,             // opcode WRQ
  ...ascii('upload.txt'), // filename
  0x00,
  ...ascii('netascii'),   // mode
  0x00,
]);

export const data = Uint8Array.from([
  0x00, 0x03,             // opcode DATA
  0x00, 0x01,             // block 1
  0xde, 0xad, 0xbe, 0xef, // payload
]);

/** The zero-length final block sent when a file is an exact multiple of blksize. */
export const dataEmpty = Uint8Array.from([
  0x00, 0x03,             // opcode DATA
  0xff, 0xff,             // block 65535, the last before rollover
]);

export const ack = Uint8Array.from([
  0x00, 0x04,             // opcode ACK
  0x01, 0x02,             // block 258
]);

export const error = Uint8Array.from([
  0x00, 0x05,             // opcode ERROR
  0x00, 0x01,             // code 1: file not found
  ...ascii('File not found'), // message
  0x00,
]);

export const oack = Uint8Array.from([
  0x00, 0x06,             // opcode OACK
  ...ascii('tsize'),      // option name
  0x00,
  ...ascii('1048576'),    // value: the file size
  0x00,
  ...ascii('blksize'),    // option name
  0x00,
  ...ascii('1468'),       // value
  0x00,
]);

export const goldenPackets: Record<string, Uint8Array> = {
  rrqPlain, rrqOptions, wrqNetascii, data, dataEmpty, ack, error, oack,
};
