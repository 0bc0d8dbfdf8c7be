import { BootOp } from '../protocols/dhcp/packet.js';
import { getOption } from '../protocols/dhcp/option-spec.js';
import { DhcpOption } from '../protocols/dhcp/dhcp-options.js';
import { classifyClient } from './classify-client.js';
import type { DhcpDecision, DhcpPolicyInput } from './policy-types.js';
import { decideFullDhcp } from './full-policy.js';
import { decideProxyDhcp } from './proxy-policy.js';
import { echoRelayAgentInformation } from './reply-packet.js';

export type { DhcpDecision, DhcpPolicyInput } from './policy-types.js';

/** Request in, reply (or silence) out. No sockets, clocks or files. */
export function decideDhcpReply(input: DhcpPolicyInput): DhcpDecision {
  const client = classifyClient(input.packet);
  if (input.packet.op !== BootOp.Request) return { reply: null, reason: 'not a BOOTREQUEST', quiet: true, client };
  const messageType = getOption(input.packet, DhcpOption.messageType);
  if (messageType === undefined) return { reply: null, reason: 'no DHCP message type (plain BOOTP is not served)', client };
  const decision = input.settings.mode === 'proxy'
    ? decideProxyDhcp(input, client, messageType)
    : decideFullDhcp(input, client, messageType);
  if (decision.reply) echoRelayAgentInformation(decision.reply, input.packet);
  return { ...decision, client, messageType, mode: input.settings.mode };
}
