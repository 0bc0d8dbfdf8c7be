import type { DhcpPacket } from '../protocols/dhcp/packet.js';
import { getOption } from '../protocols/dhcp/option-spec.js';
import { DhcpOption, printableOption } from '../protocols/dhcp/dhcp-options.js';
import { DhcpMessageType } from '../protocols/dhcp/message-types.js';
import { archTypeName } from '../protocols/dhcp/arch-types.js';
import { ZERO_IPV4 } from '../protocols/dhcp/ipv4-bytes.js';
import type { Sighting } from '../inventory/discovered.js';
import type { DhcpDecision } from './policy-types.js';

/**
 * Whether an unknown client's request is worth listing: in proxy mode the whole site's DHCP
 * traffic passes by, and only machines trying to network-boot are candidates for adoption.
 */
export function isBootCandidate(decision: DhcpDecision): boolean {
  const c = decision.client;
  return decision.mode !== 'proxy' || c.isPxe || c.isIpxe || c.isHttpClient;
}

/** What a DHCP request tells about a machine: options 60, 93, 77 and its address once known. */
export function dhcpSighting(request: DhcpPacket, decision: DhcpDecision): Sighting {
  const vendorClass = getOption(request, DhcpOption.vendorClassIdentifier);
  const userClass = getOption(request, DhcpOption.userClass);
  const archType = decision.client.archType;
  const acked = decision.reply && getOption(decision.reply, DhcpOption.messageType) === DhcpMessageType.Ack
    ? decision.reply.yiaddr
    : ZERO_IPV4;
  const ip = acked !== ZERO_IPV4 ? acked : request.ciaddr !== ZERO_IPV4 ? request.ciaddr : undefined;
  return {
    mac: decision.client.mac,
    ...(vendorClass ? { vendorClass: printableOption(vendorClass) } : {}),
    ...(archType !== undefined ? { arch: archTypeName(archType) } : {}),
    ...(userClass && userClass.length > 0 ? { userClass: printableOption(userClass.join(',')) } : {}),
    ...(ip !== undefined ? { ip } : {}),
  };
}
