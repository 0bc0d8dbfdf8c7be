import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type RedeemResult, TokenIssuer, normalizeIp } from './tokens.js';
import { randomBytes, seededRandom } from '../testing/seeded-random.js';

const MAC = '52:54:00:12:34:56';
const IP = '10.0.0.5';

function issuer(opts: { cap?: number } = {}) {
  let t = 1_000_000;
  const rnd = seededRandom(42);
  const tokens = new TokenIssuer({ ttlMs: 60_000, now: () => t, random: (n) => randomBytes(rnd, n), ...opts });
  return { tokens, advance: (ms: number) => (t += ms) };
}

interface Case {
  name: string;
  run: (tokens: TokenIssuer, advance: (ms: number) => void) => RedeemResult;
  want: RedeemResult;
}

const cases: Case[] = [
  { name: 'fresh token', run: (k) => k.redeem(k.issue(MAC, IP), { ip: IP }), want: { ok: true, mac: MAC } },
  {
    name: 'fresh token with the right MAC in another spelling, IPv4-mapped address',
    run: (k) => k.redeem(k.issue(MAC, IP), { mac: '52-54-00-12-34-56', ip: '::ffff:10.0.0.5' }),
    want: { ok: true, mac: MAC },
  },
  {
    name: 'second use',
    run: (k) => {
      const t = k.issue(MAC, IP);
      assert.equal(k.redeem(t, { ip: IP }).ok, true);
      return k.redeem(t, { ip: IP });
    },
    want: { ok: false, reason: 'reused', alert: true, mac: MAC },
  },
  {
    name: 'use from another IP',
    run: (k) => k.redeem(k.issue(MAC, IP), { ip: '10.0.0.6' }),
    want: { ok: false, reason: 'wrong-address', alert: true, mac: MAC },
  },
  {
    name: 'use claiming another MAC',
    run: (k) => k.redeem(k.issue(MAC, IP), { mac: '52:54:00:00:00:01', ip: IP }),
    want: { ok: false, reason: 'wrong-address', alert: true, mac: MAC },
  },
  {
    name: 'rightful node after a use from another IP: the token is burned',
    run: (k) => {
      const t = k.issue(MAC, IP);
      k.redeem(t, { ip: '10.0.0.6' });
      return k.redeem(t, { ip: IP });
    },
    want: { ok: false, reason: 'reused', alert: true, mac: MAC },
  },
  {
    name: 'just before the TTL',
    run: (k, advance) => {
      const t = k.issue(MAC, IP);
      advance(59_999);
      return k.redeem(t, { ip: IP });
    },
    want: { ok: true, mac: MAC },
  },
  {
    name: 'at the TTL',
    run: (k, advance) => {
      const t = k.issue(MAC, IP);
      advance(60_000);
      return k.redeem(t, { ip: IP });
    },
    want: { ok: false, reason: 'expired', alert: false, mac: MAC },
  },
  {
    name: 'never issued',
    run: (k) => k.redeem(Buffer.alloc(32, 7).toString('base64url'), { ip: IP }),
    want: { ok: false, reason: 'unknown', alert: false },
  },
  { name: 'malformed', run: (k) => k.redeem('../../etc/passwd', { ip: IP }), want: { ok: false, reason: 'unknown', alert: false } },
  {
    name: 'expired, and issuing others meanwhile: still reported as expired for a while',
    run: (k, advance) => {
      const t = k.issue(MAC, IP);
      advance(60_000);
      k.issue(MAC, IP); // issuing prunes
      return k.redeem(t, { ip: IP });
    },
    want: { ok: false, reason: 'expired', alert: false, mac: MAC },
  },
  {
    name: 'expired and pruned 15 minutes later',
    run: (k, advance) => {
      const t = k.issue(MAC, IP);
      advance(60_000 + 15 * 60_000);
      k.issue(MAC, IP);
      return k.redeem(t, { ip: IP });
    },
    want: { ok: false, reason: 'unknown', alert: false },
  },
  {
    name: 'replay shortly after expiry of a used token is still an alert',
    run: (k, advance) => {
      const t = k.issue(MAC, IP);
      k.redeem(t, { ip: IP });
      advance(14 * 60_000);
      k.issue(MAC, IP);
      return k.redeem(t, { ip: IP });
    },
    want: { ok: false, reason: 'reused', alert: true, mac: MAC },
  },
];

for (const c of cases) {
  test(`token: ${c.name}`, () => {
    const { tokens, advance } = issuer();
    assert.deepEqual(c.run(tokens, advance), c.want);
  });
}

test('tokens are 32 random bytes in base64url', () => {
  const { tokens } = issuer();
  const t = tokens.issue(MAC, IP);
  assert.match(t, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(t, 'base64url').length, 32);
  assert.notEqual(tokens.issue(MAC, IP), t);
});

test('outstanding tokens are capped, oldest dropped first', () => {
  const { tokens } = issuer({ cap: 3 });
  const all = Array.from({ length: 5 }, () => tokens.issue(MAC, IP));
  assert.equal(tokens.size, 3);
  assert.equal(tokens.redeem(all[0]!, { ip: IP }).ok, false);
  assert.equal(tokens.redeem(all[1]!, { ip: IP }).ok, false);
  assert.deepEqual(tokens.redeem(all[4]!, { ip: IP }), { ok: true, mac: MAC });
});

test('issue refuses bad addresses and a repeating random source', () => {
  const { tokens } = issuer();
  assert.throws(() => tokens.issue('nope', IP), /invalid MAC/);
  assert.throws(() => tokens.issue(MAC, '10.0.0.300'), /invalid IP/);
  const stuck = new TokenIssuer({ random: (n) => new Uint8Array(n) });
  stuck.issue(MAC, IP);
  assert.throws(() => stuck.issue(MAC, IP), /repeated/);
});

test('normalizeIp', () => {
  assert.equal(normalizeIp('::ffff:192.168.1.2'), '192.168.1.2');
  assert.equal(normalizeIp('FE80::1'), 'fe80::1');
  assert.equal(normalizeIp('x'), undefined);
});
