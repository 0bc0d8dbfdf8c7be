import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { peerIp } from '../events/peer-address.js';

/**
 * Which client addresses may read the API: a list of CIDRs ("10.77.0.0/24", "127.0.0.1/32",
 * "::1/128"); a bare address means just that host. IPv4-mapped IPv6 peers count as IPv4.
 */
export function cidrAllowList(cidrs: readonly string[]): (remoteAddress: string | undefined) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [addr = '', prefixText] = cidr.trim().split('/');
    const family = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : undefined;
    const prefix = prefixText === undefined ? (family === 'ipv4' ? 32 : 128) : Number(prefixText);
    if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 'ipv4' ? 32 : 128)) {
      throw new Error(`Cannot use API read network ${JSON.stringify(cidr)}: expected ADDRESS/PREFIX, e.g. 10.77.0.0/24`);
    }
    list.addSubnet(addr, prefix, family);
  }
  return (remote) => {
    const ip = remote === undefined ? undefined : peerIp(remote);
    if (ip === undefined) return false;
    return list.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6');
  };
}

export type BearerCheck = 'ok' | 'missing' | 'wrong';

/**
 * Compares `Authorization: Bearer TOKEN` with the admin token in constant time: both sides are
 * hashed first so neither the length nor a common prefix shows in the timing.
 */
export function checkBearer(header: string | undefined, token: string | undefined): BearerCheck {
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return 'missing';
  if (!token) return 'wrong';
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(m[1]!), digest(token)) ? 'ok' : 'wrong';
}
