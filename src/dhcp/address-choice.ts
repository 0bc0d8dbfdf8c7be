import { formatIpv4, parseIpv4 } from '../net/ipv4.js';
import type { DhcpNode, DhcpSettings } from './settings.js';
import type { LeaseView } from './lease-table.js';

export type AddressSource = 'reservation' | 'lease' | 'requested' | 'pool';
export type AddressChoice = { ok: true; ip: string; source: AddressSource } | { ok: false; reason: string };

export interface AddressContext {
  mac: string;
  node: DhcpNode | undefined;
  settings: DhcpSettings;
  leases: LeaseView;
  /** The key (MAC, or "host:NAME") of the node holding a fixed reservation for `ip`, so the pool skips it. */
  reservedBy?: ((ip: string) => string | undefined) | undefined;
  /** Where the pool scan starts; without one, every scan starts at the pool's first address. */
  cursor?: PoolCursor | undefined;
}

/**
 * Where the next pool scan starts: just after the address the pool handed out last. Scanning
 * from the pool's start every time walks every lease a storm has already handed out, so each
 * DISCOVER cost O(leases) (12 s of CPU for 5,000 new clients); from the cursor, the next free
 * address is usually the first one tried. dnsmasq avoids the same walk by starting at a hash of
 * the MAC. One cursor per server, kept in memory: after a restart it starts at the pool's start.
 */
export class PoolCursor {
  next: number | undefined;
}

/** Reservation first, then the client's last address, then what it asked for, then the first free one. */
export function chooseAddress(ctx: AddressContext, requestedIp: string | undefined): AddressChoice {
  const reserved = ctx.node?.address;
  if (reserved !== undefined) {
    return ctx.leases.isAvailable(reserved, ctx.mac, ctx.node?.key)
      ? { ok: true, ip: reserved, source: 'reservation' }
      : { ok: false, reason: `reserved address ${reserved} is held by another client or was declined` };
  }
  const previous = ctx.leases.leaseForMac(ctx.mac);
  if (previous && previous.state !== 'declined' && isUsable(ctx, previous.ip)) {
    return { ok: true, ip: previous.ip, source: 'lease' };
  }
  if (requestedIp !== undefined && isUsable(ctx, requestedIp)) return { ok: true, ip: requestedIp, source: 'requested' };
  const range = poolRange(ctx.settings);
  if (!range) return { ok: false, reason: 'no pool configured and no reservation for this client' };
  // Addresses nobody else has an entry for come first. An expired offer is a client that was
  // slow to REQUEST (a boot storm): handing its address to someone else would NAK it later
  // (RFC 2131 §4.3.2); an expired lease is a machine that may come back for its address
  // (§4.3.1 prefers giving it the same one). Those are reused only when nothing else is free.
  const size = range.end - range.start + 1;
  const hint = ctx.cursor?.next;
  const from = hint !== undefined && hint >= range.start && hint <= range.end ? hint : range.start;
  let fallback: { ip: string; n: number } | undefined;
  for (let i = 0; i < size; i++) {
    const n = from + i <= range.end ? from + i : from + i - size;
    const ip = formatIpv4(n);
    if (!isUsableAt(ctx, ip)) continue;
    const entry = ctx.leases.leaseForIp(ip);
    if (entry === undefined || entry.mac === ctx.mac) return poolChoice(ctx, ip, n);
    fallback ??= { ip, n };
  }
  if (fallback !== undefined) return poolChoice(ctx, fallback.ip, fallback.n);
  return { ok: false, reason: `pool ${ctx.settings.pool?.start}-${ctx.settings.pool?.end} exhausted` };
}

function poolChoice(ctx: AddressContext, ip: string, n: number): AddressChoice {
  if (ctx.cursor) ctx.cursor.next = n + 1;
  return { ok: true, ip, source: 'pool' };
}

/** Whether this client may have `ip` (REQUEST checks, RFC 2131 §4.3.2). */
export function isAcceptable(ctx: AddressContext, ip: string): boolean {
  return mayHold(ctx, ip) && ctx.leases.isAvailable(ip, ctx.mac, ctx.node?.key);
}

/**
 * Whether a running client may renew `ip` although a decline holds it: only a decline sent in
 * its own name, of an address it may have. A client that really found its address in use
 * starts over with a DISCOVER (RFC 2131 §4.4.1) and never renews it; a client that renews is
 * using it. So a decline in a running node's name (all a spoofer of its MAC can send) must
 * not turn its renewal into a NAK.
 */
export function isRenewableOverOwnDecline(ctx: AddressContext, ip: string): boolean {
  const entry = ctx.leases.leaseForIp(ip);
  return entry?.state === 'declined' && entry.mac === ctx.mac && mayHold(ctx, ip);
}

/**
 * Why a DECLINE of `ip` from this client is refused, or undefined when it is honoured. RFC
 * 2131 §4.3.3: the client declines the address the server gave it. So only an address offered
 * or bound to this very client right now, and only one it may have at all (its reservation,
 * or a pool address nobody else has reserved). Anything else would let any host on the LAN
 * take any address, another node's included, out of service.
 */
export function declineRefusal(ctx: AddressContext, ip: string): string | undefined {
  if (!mayHold(ctx, ip)) {
    const reserved = ctx.node?.address;
    return reserved !== undefined ? `${ip} is not this client's reservation ${reserved}` : `${ip} is not a pool address this client may have`;
  }
  if (!ctx.leases.isHeldBy(ip, ctx.mac)) return `${ip} is not offered or bound to this client`;
  return undefined;
}

/** The client's reservation or, for a client without one, a pool address it may be given. */
function mayHold(ctx: AddressContext, ip: string): boolean {
  const reserved = ctx.node?.address;
  if (reserved !== undefined) return ip === reserved;
  return inPool(ctx.settings, ip) && isPoolAddressFor(ctx, ip);
}

function isUsable(ctx: AddressContext, ip: string): boolean {
  return inPool(ctx.settings, ip) && isUsableAt(ctx, ip);
}

/** isUsable for an address already known to be in the pool. */
function isUsableAt(ctx: AddressContext, ip: string): boolean {
  return isPoolAddressFor(ctx, ip) && ctx.leases.isAvailable(ip, ctx.mac, ctx.node?.key);
}

/** A pool address that is neither the server's own nor reserved for another node. */
function isPoolAddressFor(ctx: AddressContext, ip: string): boolean {
  if (ip === ctx.settings.serverAddress) return false;
  const owner = ctx.reservedBy?.(ip);
  return owner === undefined || owner === ctx.mac || (ctx.node?.key !== undefined && owner === ctx.node.key);
}

function inPool(settings: DhcpSettings, ip: string): boolean {
  const range = poolRange(settings);
  const n = parseIpv4(ip);
  return range !== undefined && n !== undefined && n >= range.start && n <= range.end;
}

function poolRange(settings: DhcpSettings): { start: number; end: number } | undefined {
  if (!settings.pool) return undefined;
  const start = parseIpv4(settings.pool.start);
  const end = parseIpv4(settings.pool.end);
  if (start === undefined || end === undefined || start > end) return undefined;
  return { start, end };
}
