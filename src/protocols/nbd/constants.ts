/**
 * Numbers of the NBD protocol (NetworkBlockDevice/nbd doc/proto.md), as constant tables with
 * name maps so codecs, policy and log lines share one registry.
 */

/** 'NBDMAGIC', the first 8 bytes a newstyle server sends. */
export const NBD_MAGIC = 0x4e42444d41474943n;
/** 'IHAVEOPT': second word of the greeting, and the magic of every option request. */
export const IHAVEOPT = 0x49484156454f5054n;
export const OPTION_REPLY_MAGIC = 0x3e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

/** Handshake flags, sent by the server after the greeting magics (16 bits). */
export const HandshakeFlag = {
  FIXED_NEWSTYLE: 1 << 0,
  NO_ZEROES: 1 << 1,
} as const;

/** Client flags (32 bits); any other bit set means the client speaks something we don't. */
export const ClientFlag = {
  FIXED_NEWSTYLE: 1 << 0,
  NO_ZEROES: 1 << 1,
} as const;
export const KNOWN_CLIENT_FLAGS = ClientFlag.FIXED_NEWSTYLE | ClientFlag.NO_ZEROES;

/** Transmission flags (16 bits), per export. */
export const TransmissionFlag = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  ROTATIONAL: 1 << 4,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  SEND_DF: 1 << 7,
  CAN_MULTI_CONN: 1 << 8,
  SEND_RESIZE: 1 << 9,
  SEND_CACHE: 1 << 10,
  SEND_FAST_ZERO: 1 << 11,
} as const;

export const Option = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  PEEK_EXPORT: 4,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
  EXTENDED_HEADERS: 11,
} as const;
export type Option = (typeof Option)[keyof typeof Option];

const ERR = 0x80000000;
/** Option reply types; errors have bit 31 set. */
export const Reply = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: ERR + 1,
  ERR_POLICY: ERR + 2,
  ERR_INVALID: ERR + 3,
  ERR_PLATFORM: ERR + 4,
  ERR_TLS_REQD: ERR + 5,
  ERR_UNKNOWN: ERR + 6,
  ERR_SHUTDOWN: ERR + 7,
  ERR_BLOCK_SIZE_REQD: ERR + 8,
  ERR_TOO_BIG: ERR + 9,
} as const;
export type Reply = (typeof Reply)[keyof typeof Reply];

/** Information types inside NBD_REP_INFO replies to NBD_OPT_INFO / NBD_OPT_GO. */
export const Info = {
  EXPORT: 0,
  NAME: 1,
  DESCRIPTION: 2,
  BLOCK_SIZE: 3,
} as const;
export type Info = (typeof Info)[keyof typeof Info];

export const Command = {
  READ: 0,
  WRITE: 1,
  DISC: 2,
  FLUSH: 3,
  TRIM: 4,
  CACHE: 5,
  WRITE_ZEROES: 6,
  BLOCK_STATUS: 7,
  RESIZE: 8,
} as const;
export type Command = (typeof Command)[keyof typeof Command];

export const CommandFlag = {
  FUA: 1 << 0,
  NO_HOLE: 1 << 1,
  DF: 1 << 2,
  REQ_ONE: 1 << 3,
  FAST_ZERO: 1 << 4,
  PAYLOAD_LEN: 1 << 5,
} as const;

/** Structured reply chunk flags. */
export const ReplyFlag = {
  DONE: 1 << 0,
} as const;

/** Structured reply chunk types; error chunks have bit 15 set. */
export const ReplyType = {
  NONE: 0,
  OFFSET_DATA: 1,
  OFFSET_HOLE: 2,
  BLOCK_STATUS: 5,
  ERROR: 0x8001,
  ERROR_OFFSET: 0x8002,
} as const;
export type ReplyType = (typeof ReplyType)[keyof typeof ReplyType];

/** The only error values the spec allows in a reply ("Error values"). */
export const Errno = {
  OK: 0,
  EPERM: 1,
  EIO: 5,
  ENOMEM: 12,
  EINVAL: 22,
  ENOSPC: 28,
  EOVERFLOW: 75,
  ENOTSUP: 95,
  ESHUTDOWN: 108,
} as const;
export type Errno = (typeof Errno)[keyof typeof Errno];

function names(table: Record<string, number>): ReadonlyMap<number, string> {
  return new Map(Object.entries(table).map(([k, v]) => [v, k]));
}
const OPTION_NAMES = names(Option);
const COMMAND_NAMES = names(Command);
const REPLY_NAMES = names(Reply);

/** "GO", "LIST", … or the number for options this registry does not know (log lines). */
export function optionName(option: number): string {
  return OPTION_NAMES.get(option) ?? String(option);
}
export function commandName(command: number): string {
  return COMMAND_NAMES.get(command) ?? String(command);
}
export function replyName(reply: number): string {
  return REPLY_NAMES.get(reply) ?? `0x${reply.toString(16)}`;
}

/** Size of fixed-length messages on the wire. */
export const GREETING_BYTES = 18;
export const CLIENT_FLAGS_BYTES = 4;
export const OPTION_HEADER_BYTES = 16;
export const OPTION_REPLY_HEADER_BYTES = 20;
export const REQUEST_BYTES = 28;
export const SIMPLE_REPLY_BYTES = 16;
export const STRUCTURED_REPLY_HEADER_BYTES = 20;
/** Reserved zeroes after an NBD_OPT_EXPORT_NAME reply unless both sides agreed NO_ZEROES. */
export const EXPORT_NAME_PAD_BYTES = 124;

/** Strings (export names, descriptions) "MUST be no longer than 4096 bytes". */
export const MAX_STRING_BYTES = 4096;
/**
 * Largest option payload read into memory. The biggest legitimate one is a GO/INFO with a
 * 4096-byte name and a handful of info requests; anything bigger is refused before a byte of
 * it is buffered (nbd-server CVE-2022-26495 trusted this length).
 */
export const MAX_OPTION_DATA_BYTES = 64 * 1024;

/**
 * Block size constraints advertised with NBD_INFO_BLOCK_SIZE. These are the spec's defaults
 * ("Block size constraints"): any byte offset works because reads come from a file, 4 KiB is
 * the page size clients should prefer, and 32 MiB is the largest payload the spec says a
 * client may expect to be accepted.
 */
export const MIN_BLOCK_SIZE = 1;
export const PREFERRED_BLOCK_SIZE = 4096;
export const MAX_PAYLOAD_BYTES = 32 * 1024 * 1024;
