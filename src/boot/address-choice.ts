import { formatIpv4, parseIpv4 } from '../net/ipv4.js';
import type { DhcpNode, DhcpSettings } from './dhcp-settings.js';
import type { LeaseView } from './lease-store.js';

export type AddressSource = 'reservation' | 'lease' | 'requested' | 'pool';
export type AddressChoice = { ok: true; ip: string; source: AddressSource } | { ok: false; reason: string };

export interface AddressContext {
  mac: string;
  node: DhcpNode | undefined;
  settings: DhcpSettings;
  leases: LeaseView;
  /** The MAC of the node holding a fixed reservation for `ip`, so the pool skips it. */
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
    return ctx.leases.isAvailable(reserved, ctx.mac)
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
  const reserved = ctx.node?.address;
  if (reserved !== undefined) return ip === reserved && ctx.leases.isAvailable(ip, ctx.mac);
  return isUsable(ctx, ip);
}

function isUsable(ctx: AddressContext, ip: string): boolean {
  const range = poolRange(ctx.settings);
  const n = parseIpv4(ip);
  if (!range || n === undefined || n < range.start || n > range.end) return false;
  return isUsableAt(ctx, ip);
}

/** isUsable for an address already known to be in the pool. */
function isUsableAt(ctx: AddressContext, ip: string): boolean {
  if (ip === ctx.settings.serverAddress) return false;
  const owner = ctx.reservedBy?.(ip);
  if (owner !== undefined && owner !== ctx.mac) return false;
  return ctx.leases.isAvailable(ip, ctx.mac);
}

function poolRange(settings: DhcpSettings): { start: number; end: number } | undefined {
  if (!settings.pool) return undefined;
  const start = parseIpv4(settings.pool.start);
  const end = parseIpv4(settings.pool.end);
  if (start === undefined || end === undefined || start > end) return undefined;
  return { start, end };
}
