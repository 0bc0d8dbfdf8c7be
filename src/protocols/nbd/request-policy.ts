import { Command, CommandFlag, Errno, MAX_PAYLOAD_BYTES } from './constants.js';
import type { NbdRequest } from './transmission.js';

/** What a read-only export does with one request. */
export type RequestAction =
  | { readonly action: 'read'; readonly offset: number; readonly length: number }
  /** Answer at once with this error (0 = success) and no payload; `reason` is for humans. */
  | { readonly action: 'reply'; readonly error: Errno; readonly reason?: string }
  | { readonly action: 'disconnect' };

/**
 * Transmission policy of a read-only export of `size` bytes, with the spec's "Error values"
 * guidance: EPERM for writes to a read-only export, EINVAL for unknown commands, unknown
 * flags and out-of-range requests.
 */
export function decideRequest(request: NbdRequest, size: number): RequestAction {
  switch (request.command) {
    case Command.READ: {
      // FUA is ignored rather than refused: the spec notes "existing clients are known to
      // set this bit on other commands", and a read has nothing to persist.
      if ((request.flags & ~CommandFlag.FUA) !== 0) return reply(Errno.EINVAL, `unsupported command flags 0x${request.flags.toString(16)}`);
      // A zero-length read is unspecified ("SHOULD NOT disconnect"); over the advertised
      // maximum payload it would make the server buffer up to 4 GiB for one reply.
      if (request.length === 0) return reply(Errno.EINVAL, 'zero-length read');
      if (request.length > MAX_PAYLOAD_BYTES) return reply(Errno.EINVAL, `read of ${request.length} bytes exceeds the ${MAX_PAYLOAD_BYTES}-byte maximum`);
      if (request.offset + BigInt(request.length) > BigInt(size)) return reply(Errno.EINVAL, `read past the end of the ${size}-byte export`);
      return { action: 'read', offset: Number(request.offset), length: request.length };
    }
    case Command.WRITE:
    case Command.TRIM:
    case Command.WRITE_ZEROES:
      return reply(Errno.EPERM, 'export is read-only');
    case Command.FLUSH:
      // Never advertised (nothing is cached), but harmless to acknowledge.
      return reply(Errno.OK);
    case Command.DISC:
      return { action: 'disconnect' };
    default:
      // CACHE, BLOCK_STATUS, RESIZE were never negotiated; unknown commands likewise.
      return reply(Errno.EINVAL, `command ${request.command} is not supported`);
  }
}

function reply(error: Errno, reason?: string): RequestAction {
  return reason === undefined ? { action: 'reply', error } : { action: 'reply', error, reason };
}
