import { normalizeMac } from '../net/mac.js';
import { judgeRedemption, newToken, normalizeIp, tokenDigest, type RedeemResult, type TokenStore } from '../secrets/tokens.js';
import { defaultRandomBytes, type RandomBytes } from '../secrets/secret-files.js';
import type { Queryable } from './database.js';

export interface PgBootTokensOptions {
  /** How long a token may be redeemed after it was issued. */
  ttlMs: number;
  /** How long past expiry a token is still recognised (as expired or reused); default 15 min. */
  rememberMs?: number;
  now?: () => number;
  random?: RandomBytes;
}

/** Old records are deleted at most this often (by whichever server issues a token then). */
const PRUNE_EVERY_MS = 60_000;

/**
 * Boot tokens in the state database: the token one server put in a node's boot script is
 * redeemed at whichever server the node's /init reaches, once. Only SHA-256 digests are
 * stored. A redemption is one statement against the locked row (it reads the record and marks
 * it used together), so two servers receiving the same token at once accept at most one.
 * Issuing waits for the insert, so the token is redeemable everywhere before the script that
 * holds it leaves; with the database away no token is issued (the script goes without one, as
 * outside a secrets window, and /init asks again).
 */
export class PgBootTokens implements TokenStore {
  readonly #db: Queryable;
  readonly #ttlMs: number;
  readonly #rememberMs: number;
  readonly #now: () => number;
  readonly #random: RandomBytes;
  #prunedAt = 0;

  constructor(db: Queryable, o: PgBootTokensOptions) {
    if (!(o.ttlMs > 0)) throw new RangeError(`PgBootTokens ttlMs must be positive, got ${o.ttlMs}`);
    this.#db = db;
    this.#ttlMs = o.ttlMs;
    this.#rememberMs = o.rememberMs ?? Math.max(o.ttlMs, 15 * 60_000);
    this.#now = o.now ?? Date.now;
    this.#random = o.random ?? defaultRandomBytes;
  }

  async issue(mac: string, ip: string): Promise<string> {
    const m = normalizeMac(mac);
    if (m === undefined) throw new Error(`Cannot issue token: invalid MAC address "${mac}"`);
    const a = normalizeIp(ip);
    if (a === undefined) throw new Error(`Cannot issue token: invalid IP address "${ip}"`);
    const now = this.#now();
    if (now - this.#prunedAt >= PRUNE_EVERY_MS) {
      this.#prunedAt = now;
      await this.#db.query('DELETE FROM boot_tokens WHERE expires_at < $1', [now - this.#rememberMs]);
    }
    const token = newToken(this.#random);
    // A repeated digest (only a broken random source repeats 256 bits) fails the primary key.
    await this.#db.query('INSERT INTO boot_tokens (digest, mac, ip, expires_at) VALUES ($1, $2, $3, $4)', [tokenDigest(token), m, a, now + this.#ttlMs]);
    return token;
  }

  async redeem(token: string, from: { mac?: string; ip: string }): Promise<RedeemResult> {
    const digest = tokenDigest(token);
    if (digest === undefined) return { ok: false, reason: 'unknown', alert: false };
    const rows = await this.#db.query<{ mac: string; ip: string; expires_at: string; used: boolean }>(
      `WITH old AS (SELECT digest, mac, ip, expires_at, used FROM boot_tokens WHERE digest = $1 FOR UPDATE)
       UPDATE boot_tokens t SET used = true FROM old WHERE t.digest = old.digest
       RETURNING old.mac, old.ip, old.expires_at, old.used`, [digest]);
    const row = rows[0];
    if (row === undefined) return { ok: false, reason: 'unknown', alert: false };
    const r = judgeRedemption({ mac: row.mac, ip: row.ip, expiresAt: Number(row.expires_at), used: row.used }, from, this.#now());
    // As in memory: an expired token is forgotten (a late node retries and is told "unknown").
    if (!r.ok && r.reason === 'expired') await this.#db.query('DELETE FROM boot_tokens WHERE digest = $1', [digest]);
    return r;
  }
}
