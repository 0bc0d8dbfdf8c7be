import type { TftpOption } from './packet.js';

/** Defaults of RFC 1350 when the client asks for nothing (or nothing we accept). */
export const DEFAULT_BLKSIZE = 512;
export const DEFAULT_WINDOWSIZE = 1;
/** RFC 2348: "valid values range between 8 and 65464 octets, inclusive". */
export const MIN_BLKSIZE = 8;
export const MAX_BLKSIZE = 65464;
/** RFC 7440 §3: "valid values range between 1 and 65535 blocks, inclusive". */
export const MAX_WINDOWSIZE = 65535;

export interface NegotiationLimits {
  /** Largest blksize granted; bigger requests are lowered to it (RFC 2348 lets the server answer smaller). */
  readonly maxBlksize: number;
  /** Largest windowsize granted; bigger requests are lowered to it (RFC 7440 §3). */
  readonly maxWindowsize: number;
}

export interface Negotiated {
  readonly blksize: number;
  readonly windowsize: number;
  /** Retransmission timeout the client asked for (RFC 2349), when it was acceptable. */
  readonly timeoutMs?: number;
  /** Options to acknowledge, in the client's order. Empty means: send no OACK, start with DATA 1. */
  readonly oack: readonly TftpOption[];
}

/**
 * RFC 2347 negotiation for a read request. Options we do not know, or whose values we cannot
 * use, are left out of the OACK, which per RFC 2347 tells the client they are not in effect;
 * nothing is ever refused with ERROR 8. Option names are matched case-insensitively.
 */
export function negotiateOptions(
  requested: readonly TftpOption[],
  limits: NegotiationLimits,
  fileSize: number,
): Negotiated {
  let blksize = DEFAULT_BLKSIZE;
  let windowsize = DEFAULT_WINDOWSIZE;
  let timeoutMs: number | undefined;
  const oack: TftpOption[] = [];

  for (const { name, value } of requested) {
    const key = name.toLowerCase();
    const n = parseDecimal(value);
    switch (key) {
      case 'blksize': {
        // Below 8 is outside RFC 2348's range: ignore the option rather than guess.
        if (n === undefined || n < MIN_BLKSIZE) break;
        blksize = Math.min(n, MAX_BLKSIZE, Math.max(MIN_BLKSIZE, limits.maxBlksize));
        oack.push({ name: key, value: String(blksize) });
        break;
      }
      case 'windowsize': {
        if (n === undefined || n < 1) break;
        windowsize = Math.min(n, MAX_WINDOWSIZE, Math.max(1, limits.maxWindowsize));
        oack.push({ name: key, value: String(windowsize) });
        break;
      }
      case 'timeout': {
        // RFC 2349: 1..255 seconds, and the server may not change the value, only drop it.
        if (n === undefined || n < 1 || n > 255) break;
        timeoutMs = n * 1000;
        oack.push({ name: key, value: String(n) });
        break;
      }
      case 'tsize': {
        // RFC 2349: in a read request the client sends 0 and the server answers with the size.
        // Any number is treated the same way, as tftp-hpa does.
        if (n === undefined) break;
        oack.push({ name: key, value: String(fileSize) });
        break;
      }
      default:
        break;
    }
  }
  return timeoutMs === undefined ? { blksize, windowsize, oack } : { blksize, windowsize, timeoutMs, oack };
}

/** Decimal digits only. Absurdly long numbers become Infinity, which the clamps bring down. */
function parseDecimal(value: string): number | undefined {
  if (!/^[0-9]+$/.test(value)) return undefined;
  const trimmed = value.replace(/^0+(?=.)/, '');
  return trimmed.length > 15 ? Infinity : Number(trimmed);
}
