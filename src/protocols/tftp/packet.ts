/**
 * TFTP packet shapes (RFC 1350 §5, RFC 2347 for options and OACK) as a tagged union.
 * Decoding lives in decode.ts, encoding in encode.ts; neither touches a socket.
 */

export const Opcode = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** RFC 1350 appendix error codes, plus 8 from RFC 2347. */
export const ErrorCode = {
  NotDefined: 0,
  FileNotFound: 1,
  AccessViolation: 2,
  DiskFull: 3,
  IllegalOperation: 4,
  UnknownTransferId: 5,
  FileExists: 6,
  NoSuchUser: 7,
  OptionRefused: 8,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** One option as sent on the wire; order is kept because an OACK answers in the client's order. */
export interface TftpOption {
  readonly name: string;
  readonly value: string;
}

export interface RequestPacket {
  readonly type: 'rrq' | 'wrq';
  readonly filename: string;
  readonly mode: string;
  readonly options: readonly TftpOption[];
}

export interface DataPacket {
  readonly type: 'data';
  /** The 16-bit wire block number; it wraps after 65535. */
  readonly block: number;
  readonly data: Uint8Array;
}

export interface AckPacket {
  readonly type: 'ack';
  readonly block: number;
}

export interface ErrorPacket {
  readonly type: 'error';
  readonly code: number;
  readonly message: string;
}

export interface OackPacket {
  readonly type: 'oack';
  readonly options: readonly TftpOption[];
}

export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

/**
 * Longest filename accepted, in bytes. RFC 1350 sets no limit, but every request must fit a
 * 512-byte packet for old servers (RFC 2347 §"Option Format"), and Linux NAME_MAX is 255.
 */
export const MAX_FILENAME_BYTES = 255;
/** Longest option name or value accepted, in bytes (same 512-byte-request reasoning). */
export const MAX_OPTION_BYTES = 255;
