import type { DhcpPacket } from '../protocols/dhcp/packet.js';
import type { DhcpArrival } from '../protocols/dhcp/server.js';
import { ZERO_IPV4 } from '../protocols/dhcp/ipv4-bytes.js';
import { sameSubnet } from '../net/ipv4.js';
import type { DhcpSettings } from './settings.js';

export type SubnetChoice =
  | { ok: true; subnet: DhcpSettings; by: 'giaddr' | 'ciaddr' | 'interface' }
  | { ok: false; reason: string };

const holds = (s: DhcpSettings, ip: string): boolean => sameSubnet(ip, s.network, s.subnetMask);
const nameOf = (s: DhcpSettings): string => s.name ?? `${s.network}/${s.subnetMask}`;

/**
 * Which subnet a request belongs to, in RFC 2131's order:
 *  1. relayed (giaddr set): the subnet holding giaddr, the relay's address on the client's
 *     link (§4.3.1: "the server uses giaddr to select the subnet"); no such subnet, no answer;
 *  2. a client that has an address (ciaddr: RENEWING, INFORM, RELEASE, a PXE request on port
 *     4011) says where it is: renewals of relayed clients come straight to the server, §4.4.5;
 *  3. otherwise the link it arrived on: the subnet on that interface (§4.3.1: "the client is
 *     on the same subnet as the server").
 * A subnet reached only through relays never takes an unrelayed request without an address:
 * nothing on the server's own links may draw addresses from it.
 */
export function selectSubnet(request: DhcpPacket, arrival: DhcpArrival, subnets: readonly DhcpSettings[]): SubnetChoice {
  if (request.giaddr !== ZERO_IPV4) {
    const subnet = subnets.find((s) => holds(s, request.giaddr));
    return subnet
      ? { ok: true, subnet, by: 'giaddr' }
      : { ok: false, reason: `no subnet for relay ${request.giaddr}: giaddr is in none of ${subnets.map(nameOf).join(', ') || 'no subnets'}` };
  }
  if (request.ciaddr !== ZERO_IPV4) {
    const subnet = subnets.find((s) => holds(s, request.ciaddr));
    if (subnet) return { ok: true, subnet, by: 'ciaddr' };
  }
  const attached = subnets.filter((s) => s.attached !== false);
  // One socket per interface names the link; a single socket on every interface names none,
  // and then only a lone attached subnet can be meant.
  const onLink = arrival.interface === undefined ? attached : attached.filter((s) => s.interfaceName === arrival.interface);
  if (onLink.length === 1) return { ok: true, subnet: onLink[0]!, by: 'interface' };
  const where = arrival.interface === undefined ? 'the server\'s own link' : `interface ${arrival.interface}`;
  const client = request.ciaddr !== ZERO_IPV4 ? `ciaddr ${request.ciaddr} is in no subnet, and ` : '';
  const why = onLink.length > 1 ? `several subnets (${onLink.map(nameOf).join(', ')}) could be on ${where}` : `no subnet is on ${where} (subnets without an interface are served through relays only)`;
  return { ok: false, reason: `no subnet for this unrelayed request: ${client}${why}` };
}
