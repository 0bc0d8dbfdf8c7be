import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { normalizeMac } from '../net/mac.js';
import { type RandomBytes, defaultRandomBytes } from './secret-files.js';

export type RedeemFailure = 'unknown' | 'expired' | 'reused' | 'wrong-address';

export type RedeemResult =
  | { ok: true; mac: string }
  | { ok: false; reason: RedeemFailure; alert: boolean; mac?: string };

export interface TokenIssuerOptions {
  /** Default 5 minutes: long enough for a slow PXE/kernel/initrd load, short enough to be useless later. */
  ttlMs?: number;
  /** Milliseconds since the epoch. */
  now?: () => number;
  random?: RandomBytes;
  /** Records kept at most; the oldest are dropped first. */
  cap?: number;
  /** How long past expiry a token is still recognised (as expired or reused); default 15 min. */
  rememberMs?: number;
}

interface TokenRecord {
  digest: Buffer;
  mac: string;
  ip: string;
  expiresAt: number;
  used: boolean;
}

const TOKEN_BYTES = 32;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** "::ffff:10.0.0.5" (what a dual-stack socket reports) and "10.0.0.5" are the same client. */
export function normalizeIp(ip: string): string | undefined {
  const v = ip.trim().toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(v);
  const plain = mapped?.[1] ?? v;
  return isIP(plain) === 0 ? undefined : plain;
}

/** The key a token is kept under (SHA-256 of it), or undefined when it cannot be a token. */
export function tokenDigest(token: string): Buffer | undefined {
  return TOKEN_SHAPE.test(token) ? digestOf(token) : undefined;
}

/** A fresh token: 32 random bytes, base64url. */
export function newToken(random: RandomBytes = defaultRandomBytes): string {
  const bytes = random(TOKEN_BYTES);
  if (bytes.length !== TOKEN_BYTES) throw new Error(`Random source gave ${bytes.length} bytes, expected ${TOKEN_BYTES}`);
  return Buffer.from(bytes).toString('base64url');
}

/**
 * The verdict on redeeming a known token: `from.ip` is the address the redemption came from;
 * `from.mac` the machine that the neighbour table says holds it (left out when it cannot know:
 * a peer behind a router), never a MAC the client claims. A second use, or a use from another
 * address or machine, means the token leaked: refused with `alert: true` for the caller to
 * log. The keeper of the record then marks it used (ok or wrong-address: burned, so the
 * rightful node cannot be raced either) or forgets it (expired).
 */
export function judgeRedemption(rec: { mac: string; ip: string; expiresAt: number; used: boolean }, from: { mac?: string; ip: string }, now: number): RedeemResult {
  if (rec.used) return { ok: false, reason: 'reused', alert: true, mac: rec.mac };
  const ip = normalizeIp(from.ip);
  const mac = from.mac === undefined ? rec.mac : normalizeMac(from.mac);
  if (ip !== rec.ip || mac !== rec.mac) return { ok: false, reason: 'wrong-address', alert: true, mac: rec.mac };
  if (now >= rec.expiresAt) return { ok: false, reason: 'expired', alert: false, mac: rec.mac };
  return { ok: true, mac: rec.mac };
}

/**
 * Where boot tokens are kept: in memory (TokenIssuer, one server) or in the state database
 * shared by several (the postgres room), so a token one server put in a boot script is
 * redeemed at any of them, once.
 */
export interface TokenStore {
  issue(mac: string, ip: string): string | Promise<string>;
  redeem(token: string, from: { mac?: string; ip: string }): RedeemResult | Promise<RedeemResult>;
}

/**
 * One-time tokens that let a booting node fetch its secrets once. Each is bound to the MAC and
 * IP it was issued for (the DHCP lease), lives for a short TTL, and is kept in memory only: a
 * server restart simply makes nodes ask again on their next boot.
 *
 * Records are keyed by SHA-256 of the token, so a Map lookup's timing reveals nothing usable
 * about the token itself, and the stored digest is compared again with timingSafeEqual.
 */
export class TokenIssuer implements TokenStore {
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly random: RandomBytes;
  private readonly cap: number;
  private readonly rememberMs: number;
  // Insertion order is issue order, which makes "drop the oldest" a walk from the front.
  private readonly records = new Map<string, TokenRecord>();

  constructor(options: TokenIssuerOptions = {}) {
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? defaultRandomBytes;
    this.cap = options.cap ?? 10_000;
    this.rememberMs = options.rememberMs ?? Math.max(this.ttlMs, 15 * 60_000);
    if (!(this.ttlMs > 0)) throw new RangeError(`TokenIssuer ttlMs must be positive, got ${this.ttlMs}`);
    if (!Number.isInteger(this.cap) || this.cap < 1) throw new RangeError(`TokenIssuer cap must be a positive integer, got ${this.cap}`);
  }

  /** Records currently held (outstanding or recently used); for metrics and tests. */
  get size(): number {
    return this.records.size;
  }

  issue(mac: string, ip: string): string {
    const m = normalizeMac(mac);
    if (m === undefined) throw new Error(`Cannot issue token: invalid MAC address "${mac}"`);
    const a = normalizeIp(ip);
    if (a === undefined) throw new Error(`Cannot issue token: invalid IP address "${ip}"`);
    const token = newToken(this.random);
    this.prune();
    const digest = digestOf(token);
    const key = digest.toString('hex');
    // Only a broken random source repeats 256 bits; refuse rather than let two nodes share one.
    if (this.records.has(key)) throw new Error('Random source repeated a token');
    this.records.set(key, { digest, mac: m, ip: a, expiresAt: this.now() + this.ttlMs, used: false });
    while (this.records.size > this.cap) {
      const oldest = this.records.keys().next();
      if (oldest.done === true) break;
      this.records.delete(oldest.value);
    }
    return token;
  }

  /**
   * `from.ip` is the address the redemption came from; `from.mac` the machine that the
   * neighbour table says holds it (left out when it cannot know: a peer behind a router), never
   * a MAC the client claims. A second use, or a use from another address or machine, means the
   * token leaked: it is refused with `alert: true` for the caller to log, and burned so the
   * rightful node cannot be raced either.
   */
  redeem(token: string, from: { mac?: string; ip: string }): RedeemResult {
    const digest = tokenDigest(token);
    if (digest === undefined) return { ok: false, reason: 'unknown', alert: false };
    const rec = this.records.get(digest.toString('hex'));
    if (rec === undefined || !timingSafeEqual(rec.digest, digest)) return { ok: false, reason: 'unknown', alert: false };
    const r = judgeRedemption(rec, from, this.now());
    if (!r.ok && r.reason === 'expired') this.records.delete(digest.toString('hex'));
    else rec.used = true;
    return r;
  }

  /**
   * Records are kept a while past expiry, so that a replay is reported as `reused` (an alert)
   * and a late node as `expired` (its boot was slow), rather than both as `unknown`.
   */
  private prune(): void {
    const now = this.now();
    for (const [key, rec] of this.records) {
      if (now >= rec.expiresAt + this.rememberMs) this.records.delete(key);
    }
  }
}
