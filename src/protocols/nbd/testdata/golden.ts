// Golden NBD messages, one field per line, as the NetworkBlockDevice/nbd doc/proto.md lays
// them out. Both directions: what a client sends and what this server must send back.

const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];

/** S: the newstyle greeting with FIXED_NEWSTYLE | NO_ZEROES. */
export const greeting = Uint8Array.from([
  0x4e, 0x42, 0x44, 0x4d, 0x41, 0x47, 0x49, 0x43, // 'NBDMAGIC'
  0x49, 0x48, 0x41, 0x56, 0x45, 0x4f, 0x50, 0x54, // 'IHAVEOPT'
  0x00, 0x03,                                     // handshake flags: FIXED_NEWSTYLE | NO_ZEROES
]);

/** C: client flags as libnbd sends them. */
export const clientFlags = Uint8Array.from([
  0x00, 0x00, 0x00, 0x03, // C_FIXED_NEWSTYLE | C_NO_ZEROES
]);

/** C: NBD_OPT_GO for "root", asking for NAME and BLOCK_SIZE. */
export const optionGo = Uint8Array.from([
  0x49, 0x48, 0x41, 0x56, 0x45, 0x4f, 0x50, 0x54, // 'IHAVEOPT'
  0x00, 0x00, 0x00, 0x07,                         // option NBD_OPT_GO
  0x00, 0x00, 0x00, 0x0e,                         // length 14
  0x00, 0x00, 0x00, 0x04,                         // name length 4
  ...ascii('root'),                               // name
  0x00, 0x02,                                     // 2 information requests
  0x00, 0x01,                                     // NBD_INFO_NAME
  0x00, 0x03,                                     // NBD_INFO_BLOCK_SIZE
]);

/** C: NBD_OPT_LIST, no data. */
export const optionList = Uint8Array.from([
  0x49, 0x48, 0x41, 0x56, 0x45, 0x4f, 0x50, 0x54, // 'IHAVEOPT'
  0x00, 0x00, 0x00, 0x03,                         // option NBD_OPT_LIST
  0x00, 0x00, 0x00, 0x00,                         // length 0
]);

/** C: NBD_OPT_EXPORT_NAME "root" (the kernel-era way in: no reply header, no errors). */
export const optionExportName = Uint8Array.from([
  0x49, 0x48, 0x41, 0x56, 0x45, 0x4f, 0x50, 0x54, // 'IHAVEOPT'
  0x00, 0x00, 0x00, 0x01,                         // option NBD_OPT_EXPORT_NAME
  0x00, 0x00, 0x00, 0x04,                         // length 4
  ...ascii('root'),                               // name, not NUL-terminated
]);

/** S: NBD_REP_ACK closing a GO. */
export const replyAck = Uint8Array.from([
  0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9, // option reply magic
  0x00, 0x00, 0x00, 0x07,                         // option NBD_OPT_GO
  0x00, 0x00, 0x00, 0x01,                         // reply type NBD_REP_ACK
  0x00, 0x00, 0x00, 0x00,                         // length 0
]);

/** S: one NBD_REP_SERVER answering NBD_OPT_LIST. */
export const replyServer = Uint8Array.from([
  0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9, // option reply magic
  0x00, 0x00, 0x00, 0x03,                         // option NBD_OPT_LIST
  0x00, 0x00, 0x00, 0x02,                         // reply type NBD_REP_SERVER
  0x00, 0x00, 0x00, 0x08,                         // length 8
  0x00, 0x00, 0x00, 0x04,                         // name length 4
  ...ascii('root'),                               // name
]);

/** S: NBD_REP_INFO / NBD_INFO_EXPORT for a 1 GiB read-only export. */
export const replyInfoExport = Uint8Array.from([
  0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9, // option reply magic
  0x00, 0x00, 0x00, 0x07,                         // option NBD_OPT_GO
  0x00, 0x00, 0x00, 0x03,                         // reply type NBD_REP_INFO
  0x00, 0x00, 0x00, 0x0c,                         // length 12
  0x00, 0x00,                                     // NBD_INFO_EXPORT
  0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, // size 2^30
  0x01, 0x03,                                     // HAS_FLAGS | READ_ONLY | CAN_MULTI_CONN
]);

/** S: NBD_REP_INFO / NBD_INFO_BLOCK_SIZE with the spec's defaults. */
export const replyInfoBlockSize = Uint8Array.from([
  0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9, // option reply magic
  0x00, 0x00, 0x00, 0x07,                         // option NBD_OPT_GO
  0x00, 0x00, 0x00, 0x03,                         // reply type NBD_REP_INFO
  0x00, 0x00, 0x00, 0x0e,                         // length 14
  0x00, 0x03,                                     // NBD_INFO_BLOCK_SIZE
  0x00, 0x00, 0x00, 0x01,                         // minimum 1
  0x00, 0x00, 0x10, 0x00,                         // preferred 4096
  0x02, 0x00, 0x00, 0x00,                         // maximum 32 MiB
]);

/** S: NBD_REP_INFO / NBD_INFO_NAME. */
export const replyInfoName = Uint8Array.from([
  0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9, // option reply magic
  0x00, 0x00, 0x00, 0x07,                         // option NBD_OPT_GO
  0x00, 0x00, 0x00, 0x03,                         // reply type NBD_REP_INFO
  0x00, 0x00, 0x00, 0x06,                         // length 6
  0x00, 0x01,                                     // NBD_INFO_NAME
  ...ascii('root'),                               // name
]);

/** S: NBD_REP_INFO / NBD_INFO_DESCRIPTION. */
export const replyInfoDescription = Uint8Array.from([
  0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9, // option reply magic
  0x00, 0x00, 0x00, 0x07,                         // option NBD_OPT_GO
  0x00, 0x00, 0x00, 0x03,                         // reply type NBD_REP_INFO
  0x00, 0x00, 0x00, 0x05,                         // length 5
  0x00, 0x02,                                     // NBD_INFO_DESCRIPTION
  ...ascii('lab'),                                // description
]);

/** S: NBD_REP_ERR_UNKNOWN for a GO naming no export, without a message. */
export const replyErrUnknown = Uint8Array.from([
  0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9, // option reply magic
  0x00, 0x00, 0x00, 0x07,                         // option NBD_OPT_GO
  0x80, 0x00, 0x00, 0x06,                         // reply type NBD_REP_ERR_UNKNOWN (2^31 + 6)
  0x00, 0x00, 0x00, 0x00,                         // length 0
]);

/** S: NBD_OPT_EXPORT_NAME reply to a client that did not set C_NO_ZEROES. */
export const exportNameReplyPadded = Uint8Array.from([
  0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x02, 0x00, // size 1 MiB + 512
  0x01, 0x03,                                     // HAS_FLAGS | READ_ONLY | CAN_MULTI_CONN
  ...new Array<number>(124).fill(0),              // 124 reserved zeroes
]);

/** S: the same reply after C_NO_ZEROES. */
export const exportNameReplyNoZeroes = Uint8Array.from([
  0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x02, 0x00, // size 1 MiB + 512
  0x01, 0x03,                                     // HAS_FLAGS | READ_ONLY | CAN_MULTI_CONN
]);

/** C: NBD_CMD_READ of 4096 bytes at 1 MiB. */
export const readRequest = Uint8Array.from([
  0x25, 0x60, 0x95, 0x13,                         // NBD_REQUEST_MAGIC
  0x00, 0x00,                                     // command flags
  0x00, 0x00,                                     // type NBD_CMD_READ
  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // cookie
  0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, // offset 1 MiB
  0x00, 0x00, 0x10, 0x00,                         // length 4096
]);

/** C: NBD_CMD_WRITE of 8 bytes with FUA; its payload follows the header. */
export const writeRequest = Uint8Array.from([
  0x25, 0x60, 0x95, 0x13,                         // NBD_REQUEST_MAGIC
  0x00, 0x01,                                     // command flags: FUA
  0x00, 0x01,                                     // type NBD_CMD_WRITE
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, // cookie
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, // offset 512
  0x00, 0x00, 0x00, 0x08,                         // length 8
]);

/** C: NBD_CMD_DISC; offset and length "MUST be zero". */
export const discRequest = Uint8Array.from([
  0x25, 0x60, 0x95, 0x13,                         // NBD_REQUEST_MAGIC
  0x00, 0x00,                                     // command flags
  0x00, 0x02,                                     // type NBD_CMD_DISC
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, // cookie
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // offset
  0x00, 0x00, 0x00, 0x00,                         // length
]);

/** S: simple reply EPERM to the write above. */
export const simpleReplyEperm = Uint8Array.from([
  0x67, 0x44, 0x66, 0x98,                         // NBD_SIMPLE_REPLY_MAGIC
  0x00, 0x00, 0x00, 0x01,                         // error EPERM
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, // cookie
]);

/** S: a whole READ answered as one final NBD_REPLY_TYPE_OFFSET_DATA chunk (4 data bytes). */
export const structuredOffsetData = Uint8Array.from([
  0x66, 0x8e, 0x33, 0xef,                         // NBD_STRUCTURED_REPLY_MAGIC
  0x00, 0x01,                                     // flags: NBD_REPLY_FLAG_DONE
  0x00, 0x01,                                     // type NBD_REPLY_TYPE_OFFSET_DATA
  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // cookie
  0x00, 0x00, 0x00, 0x0c,                         // length 12: offset + data
  0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, // offset 1 MiB
  0xde, 0xad, 0xbe, 0xef,                         // data
]);

/** S: a READ refused as one final NBD_REPLY_TYPE_ERROR chunk with a message. */
export const structuredError = Uint8Array.from([
  0x66, 0x8e, 0x33, 0xef,                         // NBD_STRUCTURED_REPLY_MAGIC
  0x00, 0x01,                                     // flags: NBD_REPLY_FLAG_DONE
  0x80, 0x01,                                     // type NBD_REPLY_TYPE_ERROR
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, // cookie
  0x00, 0x00, 0x00, 0x09,                         // length 9: error, message length, message
  0x00, 0x00, 0x00, 0x16,                         // error EINVAL
  0x00, 0x03,                                     // message length 3
  ...ascii('eof'),                                // message
]);
