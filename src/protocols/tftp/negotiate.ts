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
  /**
   * Largest window in bytes (blksize × windowsize), also enforced by lowering windowsize. A
   * window arrives as one burst, and a burst bigger than the client's receive buffer loses its
   * tail, which only a timeout repairs, once per window: atftp asking 8192 × 64 on Linux
   * loopback (212992-byte default buffer) took 48 s for 50 MB instead of 0.4 s at 8192 × 8.
   * Default 65536.
   */
  readonly maxWindowBytes?: number;
}

export interface Negotiated {
  readonly blksize: number;
  readonly windowsize: number;
  /** Retransmission timeout the client asked for (RFC 2349), when it was acceptable. */
  readonly timeoutMs?: number;
  /** Options to acknowledge, in the client's order. Empty means: send no OACK, start with DATA 1. */
  readonly oack: readonly TftpOption[];
}

export const DEFAULT_MAX_WINDOW_BYTES = 65536;

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
  // First pass: what was asked and is usable. The window cap depends on blksize, which may
  // come after windowsize in the request, so values are settled before the OACK is written.
  const accepted = new Map<string, number>();
  for (const { name, value } of requested) {
    const key = name.toLowerCase();
    const n = parseDecimal(value);
    if (n === undefined) continue;
    switch (key) {
      // Below 8 is outside RFC 2348's range: ignore the option rather than guess.
      case 'blksize': if (n >= MIN_BLKSIZE) accepted.set(key, n); break;
      case 'windowsize': if (n >= 1) accepted.set(key, n); break;
      // RFC 2349: 1..255 seconds, and the server may not change the value, only drop it.
      case 'timeout': if (n >= 1 && n <= 255) accepted.set(key, n); break;
      // RFC 2349: in a read request the client sends 0 and the server answers with the size.
      // Any number is treated the same way, as tftp-hpa does.
      case 'tsize': accepted.set(key, fileSize); break;
      default: break;
    }
  }

  const askedBlksize = accepted.get('blksize');
  const blksize = askedBlksize === undefined
    ? DEFAULT_BLKSIZE
    : Math.min(askedBlksize, MAX_BLKSIZE, Math.max(MIN_BLKSIZE, limits.maxBlksize));
  const askedWindowsize = accepted.get('windowsize');
  const windowBytes = limits.maxWindowBytes ?? DEFAULT_MAX_WINDOW_BYTES;
  const windowsize = askedWindowsize === undefined
    ? DEFAULT_WINDOWSIZE
    : Math.max(1, Math.min(askedWindowsize, MAX_WINDOWSIZE, limits.maxWindowsize, Math.floor(windowBytes / blksize)));
  const settled: Record<string, number> = { blksize, windowsize };
  const timeout = accepted.get('timeout');

  const oack: TftpOption[] = [];
  for (const { name } of requested) {
    const key = name.toLowerCase();
    const value = settled[key] ?? accepted.get(key);
    if (!accepted.has(key) || value === undefined) continue;
    accepted.delete(key); // once per option even if a caller passes duplicates
    oack.push({ name: key, value: String(value) });
  }
  return timeout === undefined ? { blksize, windowsize, oack } : { blksize, windowsize, timeoutMs: timeout * 1000, oack };
}

/** Decimal digits only. Absurdly long numbers become Infinity, which the clamps bring down. */
function parseDecimal(value: string): number | undefined {
  if (!/^[0-9]+$/.test(value)) return undefined;
  const trimmed = value.replace(/^0+(?=.)/, '');
  return trimmed.length > 15 ? Infinity : Number(trimmed);
}
