import { OptionCode } from './option-codes.js';
import { DhcpMessageType } from './message-types.js';
import { ZERO_IPV4 } from './ipv4-bytes.js';
import type { DhcpPacket } from './packet.js';

export interface UdpEndpoint {
  address: string;
  port: number;
}

export interface ReplyRoute {
  request: DhcpPacket;
  reply: DhcpPacket;
  /** The socket the request came in on. */
  via: 'server' | 'proxy';
  /** Where the request came from. */
  peer: UdpEndpoint;
  ports: { server: number; client: number };
  /** 255.255.255.255 in service; tests on loopback point it at 127.0.0.1. */
  broadcastAddress: string;
}

/** RFC 2131 §4.1, "the server … sends to …", in the order the RFC gives. */
export function replyDestination(route: ReplyRoute): UdpEndpoint {
  const { request, reply, ports } = route;
  // PXE 2.1 §2.2.6: the port 4011 exchange is plain unicast between two configured hosts.
  if (route.via === 'proxy') return route.peer;
  // Relayed: back to the relay agent's server port; the relay delivers it on the client's link.
  if (request.giaddr !== ZERO_IPV4) return { address: request.giaddr, port: ports.server };
  // A NAK must reach a client whose address is wrong, so it is broadcast.
  const isNak = reply.options.get(OptionCode.MessageType)?.[0] === DhcpMessageType.Nak;
  if (!isNak && request.ciaddr !== ZERO_IPV4) return { address: request.ciaddr, port: ports.client };
  // The RFC then asks for unicast to yiaddr at chaddr when the broadcast bit is clear. That
  // needs an ARP entry injected for an address the client does not have yet, which Node
  // cannot do, so such replies are broadcast; clients accept broadcast replies in every state.
  return { address: route.broadcastAddress, port: ports.client };
}
