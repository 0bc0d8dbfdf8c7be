import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';

/** `server.answer_router_solicitations`: `auto` (the default) answers only on an IPv4-only link. */
export type RouterSolicitations = 'auto' | boolean;

export type RaDecision =
  | { answer: true; interface: string; why: string }
  | { answer: false; why: string };

/** What the kernel says about IPv6 on this host: /proc/net/if_inet6 and /proc/net/ipv6_route. */
export interface Ipv6State {
  addresses: string;
  routes: string;
  /** /proc/sys/net/ipv6/conf/IF/disable_ipv6 of the interface ("1" when IPv6 is off on it), or undefined. */
  disabled: string | undefined;
}

// Flags in /proc/net/ipv6_route (include/uapi/linux/route.h, ipv6_route.h).
const RTF_GATEWAY = 0x0002;
const RTF_ADDRCONF = 0x40000; // learned from a Router Advertisement
// Scopes in /proc/net/if_inet6 (include/net/ipv6.h: IPV6_ADDR_LOOPBACK 0x10, _LINKLOCAL 0x20).
const SCOPE_LINK = 0x20;
const SCOPE_HOST = 0x10;

/**
 * Whether answering IPv6 Router Solicitations on `iface` is safe: the link must be IPv4-only as
 * far as this host can see. A link with an IPv6 router is not: our "no router here" could reach
 * iPXE before the real router's advertisement and end its IPv6 configuration without an address.
 * The signs of IPv6 on the link are an address on the interface beyond link-local (static, SLAAC or
 * DHCPv6) and a route through it that has a gateway or came from a Router Advertisement.
 */
export function ipv4OnlyLink(iface: string, state: Ipv6State): { ipv4Only: boolean; why: string } {
  if (state.disabled === undefined) return { ipv4Only: false, why: `the kernel has no IPv6 settings for ${iface}` };
  if (state.disabled.trim() === '1') return { ipv4Only: false, why: `IPv6 is disabled on ${iface} (no link-local address to answer from)` };
  for (const line of state.addresses.split('\n')) {
    const [addr, , , scope, , dev] = line.trim().split(/\s+/);
    if (dev !== iface || !addr || !scope) continue;
    const s = parseInt(scope, 16);
    if (s !== SCOPE_LINK && s !== SCOPE_HOST) return { ipv4Only: false, why: `${iface} has the IPv6 address ${hexToIpv6(addr)}` };
  }
  for (const line of state.routes.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[9] !== iface) continue;
    const flags = parseInt(f[8]!, 16);
    if (flags & RTF_ADDRCONF) return { ipv4Only: false, why: `${iface} has a route from an IPv6 Router Advertisement (${hexToIpv6(f[0]!)}/${parseInt(f[1]!, 16)})` };
    if (flags & RTF_GATEWAY) return { ipv4Only: false, why: `${iface} has an IPv6 route through ${hexToIpv6(f[4]!)}` };
  }
  return { ipv4Only: true, why: `${iface} has only a link-local IPv6 address and no IPv6 route beyond the link` };
}

/** The interface that holds `address` (IPv4), from this host's interface list. */
export function interfaceOf(address: string, interfaces = networkInterfaces()): string | undefined {
  for (const [name, addrs] of Object.entries(interfaces)) {
    if (addrs?.some((a) => a.family === 'IPv4' && a.address === address)) return name;
  }
  return undefined;
}

export async function readIpv6State(iface: string, proc = '/proc'): Promise<Ipv6State> {
  const read = (p: string) => readFile(`${proc}/${p}`, 'utf8').catch(() => undefined);
  // Interface names here come from the config, checked as [A-Za-z0-9_.:-]{1,15}; "." and ".." are not names.
  const safe = /^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,14}$/.test(iface) && iface !== '..';
  return {
    addresses: (await read('net/if_inet6')) ?? '',
    routes: (await read('net/ipv6_route')) ?? '',
    disabled: safe ? await read(`sys/net/ipv6/conf/${iface}/disable_ipv6`) : undefined,
  };
}

/**
 * The decision `startServices` acts on. `true` answers on `server.interface` (the config loader
 * requires it), `false` never; `auto` answers on `server.interface`, or else on the interface that
 * holds `server.address`, when that link is IPv4-only (see ipv4OnlyLink).
 */
export async function decideRouterSolicitations(
  setting: RouterSolicitations,
  server: { address: string; interface?: string },
  read: (iface: string) => Promise<Ipv6State> = readIpv6State,
  interfaces = networkInterfaces(),
): Promise<RaDecision> {
  if (setting === false) return { answer: false, why: 'server.answer_router_solicitations is false' };
  const iface = server.interface ?? interfaceOf(server.address, interfaces);
  if (setting === true) {
    if (iface === undefined) return { answer: false, why: 'no interface' }; // the loader requires server.interface
    return { answer: true, interface: iface, why: 'server.answer_router_solicitations is true' };
  }
  if (iface === undefined) return { answer: false, why: `no interface of this host holds server.address ${server.address} (set server.interface)` };
  if (iface === 'lo' || interfaces[iface]?.some((a) => a.internal)) return { answer: false, why: `${iface} is a loopback interface: no machine boots from it` };
  const link = ipv4OnlyLink(iface, await read(iface));
  return link.ipv4Only ? { answer: true, interface: iface, why: link.why } : { answer: false, why: link.why };
}

function hexToIpv6(hex: string): string {
  const groups = (hex.match(/.{4}/g) ?? []).map((g) => parseInt(g, 16).toString(16));
  // Shorten the longest run of zero groups once, as written addresses do.
  let best = { at: -1, len: 0 };
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}
