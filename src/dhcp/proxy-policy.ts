import { DhcpMessageType, messageTypeName } from '../protocols/dhcp/message-types.js';
import { OptionCode, PxeDiscoveryControl, PxeSubOption } from '../protocols/dhcp/option-codes.js';
import { encodePxeVendorOptions } from '../protocols/dhcp/pxe-vendor-options.js';
import { chooseDhcpBootFile } from './boot-file.js';
import type { ClientClass } from './classify-client.js';
import { isDeniedUnknown, type DhcpPolicyInput, type PolicyOutcome } from './policy-types.js';
import { addBootInfo, addEchoes, ReplyOptions, replySkeleton } from './reply-packet.js';

/**
 * proxyDHCP (PXE 2.1 §2.2.4–2.2.6): another server hands out addresses; this one only tells PXE
 * clients what to boot. It never sets yiaddr, never NAKs and never touches leases.
 */
export function decideProxyDhcp(input: DhcpPolicyInput, client: ClientClass, messageType: number): PolicyOutcome {
  if (!client.isPxe && !client.isIpxe) return { reply: null, reason: 'not a PXE client', quiet: true };
  if (isDeniedUnknown(input)) return { reply: null, reason: 'unknown client denied' };
  // Port 67 sees the broadcast DISCOVER; the client's REQUEST there belongs to the real DHCP
  // server. The boot-info REQUEST comes to port 4011 (PXE 2.1 §2.2.6).
  const expected = input.port === 'server' ? DhcpMessageType.Discover : DhcpMessageType.Request;
  if (messageType !== expected) {
    return { reply: null, reason: `proxy ignores ${messageTypeName(messageType)} on the ${input.port} port`, quiet: true };
  }
  const target = chooseDhcpBootFile(client, input.node ?? input.unknownLoader, input.settings);
  if (!target.ok) return { reply: null, reason: `no boot info: ${target.reason}`, ...(target.refused ? { refused: target.reason } : {}) };
  const replyType = messageType === DhcpMessageType.Discover ? DhcpMessageType.Offer : DhcpMessageType.Ack;
  const reply = replySkeleton(input.packet, replyType, input.settings.serverAddress);
  if (input.port === 'proxy') reply.ciaddr = input.packet.ciaddr;
  const options = new ReplyOptions();
  // PXE 2.1 §2.2.5: a ROM treats an offer as proxyDHCP only with option 60 "PXEClient"; bit 3 of
  // PXE_DISCOVERY_CONTROL makes it boot `file` from this offer instead of discovering servers.
  options.always.set(OptionCode.VendorClassIdentifier, Buffer.from('PXEClient'));
  options.always.set(OptionCode.VendorSpecific, encodePxeVendorOptions(new Map([
    [PxeSubOption.DiscoveryControl, Buffer.from([PxeDiscoveryControl.BootFromFilename])],
  ])));
  addEchoes(options, input.packet);
  addBootInfo(reply, options, { ...target, httpClient: false }, input.settings);
  options.applyTo(reply, input.packet);
  return { reply, reason: `proxy ${messageTypeName(replyType).toLowerCase()}, boot ${target.file}` };
}
