import {
  Info,
  MAX_PAYLOAD_BYTES,
  MAX_STRING_BYTES,
  MIN_BLOCK_SIZE,
  Option,
  PREFERRED_BLOCK_SIZE,
  Reply,
  TransmissionFlag,
} from './constants.js';
import { encodeExportNameReply } from './export-name-reply.js';
import type { NbdExport, NbdExportProvider } from './exports.js';
import { decodeInfoRequest, exportName } from './option-request.js';
import {
  encodeInfoBlockSize,
  encodeInfoDescription,
  encodeInfoExport,
  encodeInfoName,
  encodeOptionReply,
  encodeServerReplyData,
} from './option-reply.js';

/**
 * Every export is read-only. CAN_MULTI_CONN is safe because there is no write cache to make
 * coherent, and lets nbdcopy and qemu open several connections. SEND_FLUSH is not offered:
 * there is nothing to flush, and clients that send NBD_CMD_FLUSH anyway still get success.
 */
export const EXPORT_TRANSMISSION_FLAGS =
  TransmissionFlag.HAS_FLAGS | TransmissionFlag.READ_ONLY | TransmissionFlag.CAN_MULTI_CONN;

export interface NegotiationContext {
  readonly exports: NbdExportProvider;
  /** The client set NBD_FLAG_C_NO_ZEROES (after the server offered NBD_FLAG_NO_ZEROES). */
  readonly noZeroes: boolean;
}

/** What to do after one option: bytes to send, then carry on, start transmission, or close. */
export type OptionOutcome =
  /** `structuredReplies`: from now on READ is answered with structured reply chunks. */
  | { readonly next: 'options'; readonly replies: readonly Buffer[]; readonly structuredReplies?: boolean }
  | { readonly next: 'transmission'; readonly replies: readonly Buffer[]; readonly name: string; readonly export: NbdExport }
  /** `reason` is for the log; `refused` marks a client error worth a warn line rather than a normal end. */
  | { readonly next: 'close'; readonly replies: readonly Buffer[]; readonly reason: string; readonly refused: boolean };

/**
 * The server's side of option haggling for one option (fixed newstyle). Clients that did not
 * set NBD_FLAG_C_FIXED_NEWSTYLE are answered the same way, which the spec allows ("Servers
 * MAY choose to honour fixed newstyle from clients that didn't set this bit").
 */
export async function answerOption(option: number, data: Uint8Array, ctx: NegotiationContext): Promise<OptionOutcome> {
  switch (option) {
    case Option.EXPORT_NAME:
      return answerExportName(data, ctx);
    case Option.GO:
    case Option.INFO:
      return answerInfo(option, data, ctx);
    case Option.LIST:
      return answerList(data, ctx);
    case Option.ABORT:
      // "The server MUST reply with NBD_REP_ACK", then the client drops the connection; the
      // server closes too, so a client that never does cannot hold the slot.
      return { next: 'close', replies: [encodeOptionReply(option, Reply.ACK)], reason: 'client aborted', refused: false };
    case Option.STRUCTURED_REPLY:
      // Accepted because QEMU's client (7.2 at least) needs it for exports whose size is not a
      // multiple of 512: it rounds the size up, asks for the bytes up to the real end, and then
      // waits for a simple reply as long as the rounded request. A structured reply carries
      // its own length, so the same read completes. "The client MUST NOT send any additional
      // data with the option, and the server SHOULD reject a request that includes data".
      if (data.length !== 0) return options(errorReply(option, Reply.ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY takes no data'));
      return { next: 'options', replies: [encodeOptionReply(option, Reply.ACK)], structuredReplies: true };
    default:
      // STARTTLS (NOTLS mode allows ERR_UNSUP); meta contexts, as there is no block status to
      // report for a fully allocated image; extended headers; options unknown to this server.
      return options(errorReply(option, Reply.ERR_UNSUP, `Option ${option} is not supported`));
  }
}

async function answerExportName(data: Uint8Array, ctx: NegotiationContext): Promise<OptionOutcome> {
  // NBD_OPT_EXPORT_NAME cannot be answered with an error: the only refusal is to close.
  const name = exportName(data);
  if (name === undefined) return { next: 'close', replies: [], reason: `export name of ${data.length} bytes is not a valid name`, refused: true };
  const found = await openExport(name, ctx);
  if (!found.ok) return { next: 'close', replies: [], reason: found.reason, refused: true };
  return {
    next: 'transmission',
    replies: [encodeExportNameReply(BigInt(found.export.size), EXPORT_TRANSMISSION_FLAGS, ctx.noZeroes)],
    name,
    export: found.export,
  };
}

async function answerInfo(option: number, data: Uint8Array, ctx: NegotiationContext): Promise<OptionOutcome> {
  const request = decodeInfoRequest(data);
  if (!request.ok) return options(errorReply(option, Reply.ERR_INVALID, request.error));
  const name = exportName(request.value.name);
  // An over-long or non-UTF-8 name cannot name any export: the same answer as an unknown one.
  if (name === undefined) return options(errorReply(option, Reply.ERR_UNKNOWN, 'No such export'));
  const found = await openExport(name, ctx);
  if (!found.ok) return options(errorReply(option, Reply.ERR_UNKNOWN, found.reason));
  const exp = found.export;
  const wanted = new Set(request.value.infos);
  const infos = [encodeInfoExport(BigInt(exp.size), EXPORT_TRANSMISSION_FLAGS)];
  if (wanted.has(Info.NAME)) infos.push(encodeInfoName(name));
  if (wanted.has(Info.DESCRIPTION) && exp.description) infos.push(encodeInfoDescription(truncateString(exp.description)));
  // Sent even when not asked for ("The server MAY send this info whether or not…"): these are
  // the spec's default constraints, so a client that ignores them is still correct.
  infos.push(encodeInfoBlockSize(MIN_BLOCK_SIZE, PREFERRED_BLOCK_SIZE, MAX_PAYLOAD_BYTES));
  const replies = [...infos.map((info) => encodeOptionReply(option, Reply.INFO, info)), encodeOptionReply(option, Reply.ACK)];
  if (option === Option.INFO) return options(...replies);
  return { next: 'transmission', replies, name, export: exp };
}

async function answerList(data: Uint8Array, ctx: NegotiationContext): Promise<OptionOutcome> {
  if (data.length !== 0) return options(errorReply(Option.LIST, Reply.ERR_INVALID, 'NBD_OPT_LIST takes no data'));
  let names: readonly string[];
  try {
    names = await ctx.exports.list();
  } catch (e) {
    return options(errorReply(Option.LIST, Reply.ERR_POLICY, `Cannot list exports: ${message(e)}`));
  }
  const replies = names
    .filter((n) => Buffer.byteLength(n, 'utf8') <= MAX_STRING_BYTES)
    .map((n) => encodeOptionReply(Option.LIST, Reply.SERVER, encodeServerReplyData(n)));
  return options(...replies, encodeOptionReply(Option.LIST, Reply.ACK));
}

type Found = { readonly ok: true; readonly export: NbdExport } | { readonly ok: false; readonly reason: string };

async function openExport(name: string, ctx: NegotiationContext): Promise<Found> {
  let exp: NbdExport | undefined;
  try {
    exp = await ctx.exports.open(name);
  } catch (e) {
    return { ok: false, reason: `Cannot open export "${name}": ${message(e)}` };
  }
  if (!exp) return { ok: false, reason: `No such export "${name}"` };
  if (!Number.isSafeInteger(exp.size) || exp.size < 0) return { ok: false, reason: `Cannot serve export "${name}": size ${exp.size} is invalid` };
  return { ok: true, export: exp };
}

function options(...replies: Buffer[]): OptionOutcome {
  return { next: 'options', replies };
}

/** Error replies "MAY have some data set … an error message string suitable for display". */
function errorReply(option: number, type: number, text: string): Buffer {
  return encodeOptionReply(option, type, Buffer.from(truncateString(text), 'utf8'));
}

/** Keeps a string within the spec's 4096-byte limit without splitting a UTF-8 sequence. */
function truncateString(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= MAX_STRING_BYTES) return text;
  return new TextDecoder().decode(bytes.subarray(0, MAX_STRING_BYTES)).replace(/\uFFFD$/, '');
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
