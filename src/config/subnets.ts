/**
 * Which DHCP subnet an address lies in, and so which of the server's addresses a machine there
 * boots from. The one rule for both: DHCP hands that address out (option 54, siaddr, URLs),
 * the boot tree writes it into scripts, configs and kernel command lines, and the services
 * listen on every such address.
 */
import { formatIpv4, parseIpv4, prefixToMask } from '../net/ipv4.js';
import type { DisklessConfig, SubnetConfig } from './types.js';

/** "10.2.0.0/24" → its network and prefix; undefined when it is not ADDRESS/PREFIX. */
export function parseCidr(text: string): { address: string; prefix: number; hostBitsSet: boolean } | undefined {
  const m = /^\s*([\d.]+)\/(\d{1,2})\s*$/.exec(text);
  const n = m ? parseIpv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (n === undefined || !(prefix >= 0 && prefix <= 32)) return undefined;
  const network = (n & parseIpv4(prefixToMask(prefix))!) >>> 0;
  return { address: formatIpv4(network), prefix, hostBitsSet: network !== n };
}

/** Whether `ip` lies in `network`/`prefix`. */
export function inNetwork(ip: string, network: string, prefix: number): boolean {
  const [a, b] = [parseIpv4(ip), parseIpv4(network)];
  if (a === undefined || b === undefined) return false;
  const mask = parseIpv4(prefixToMask(prefix))!;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

/** "::ffff:10.2.0.5" (a dual-stack socket's view) → "10.2.0.5"; other forms unchanged. */
function plainIpv4(ip: string): string {
  return ip.replace(/^::ffff:/i, '');
}

/** The subnet whose network holds `ip`; subnets never overlap, so there is at most one. */
export function subnetOf(config: DisklessConfig, ip: string | undefined): SubnetConfig | undefined {
  if (ip === undefined) return undefined;
  const v4 = plainIpv4(ip);
  return config.dhcp.subnets.find((s) => inNetwork(v4, s.network, s.prefix));
}

/**
 * The server's address for a machine at `ip`: its subnet's boot-server address, else
 * server.address (a machine outside every subnet, e.g. one a foreign DHCP server addressed).
 */
export function bootServerAddress(config: DisklessConfig, ip: string | undefined): string {
  return subnetOf(config, ip)?.serverAddress ?? config.server.address;
}

/**
 * Which of another boot server's addresses (`peerAddresses`: its server.address first, then its
 * subnets' server_address, as the state database records them) a machine at `ip` reaches it at:
 * the one on the network where this server's own address for that machine lies (the machine's
 * subnet, or for a relayed subnet the network of its server_address). Undefined when the peer
 * has no address there, i.e. it serves no machine on that network. A machine outside every
 * subnet is sent to the peer's server.address, as it is to ours.
 */
export function peerBootAddress(config: DisklessConfig, ip: string | undefined, peerAddresses: readonly string[]): string | undefined {
  const ours = bootServerAddress(config, ip);
  const net = subnetOf(config, ours) ?? subnetOf(config, ip);
  if (net === undefined) return peerAddresses[0];
  return peerAddresses.find((a) => inNetwork(a, net.network, net.prefix));
}

/** Every address of the server that some machine boots from: server.address first. */
export function bootServerAddresses(config: DisklessConfig): string[] {
  return [...new Set([config.server.address, ...config.dhcp.subnets.map((s) => s.serverAddress)])];
}

/** The DHCP domain for a machine at `ip`: its subnet's, else dhcp.domain. */
export function domainFor(config: DisklessConfig, ip: string | undefined): string | undefined {
  return subnetOf(config, ip)?.domain ?? config.dhcp.domain;
}
