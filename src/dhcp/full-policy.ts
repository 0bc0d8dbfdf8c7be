import type { DhcpPacket } from '../protocols/dhcp/packet.js';
import { DhcpMessageType, messageTypeName } from '../protocols/dhcp/message-types.js';
import { OptionCode } from '../protocols/dhcp/option-codes.js';
import { getOption, u32Option } from '../protocols/dhcp/option-spec.js';
import { DhcpOption } from '../protocols/dhcp/dhcp-options.js';
import { ipv4ToBytes, ZERO_IPV4 } from '../protocols/dhcp/ipv4-bytes.js';
import { sameSubnet } from '../net/ipv4.js';
import { chooseAddress, declineRefusal, isAcceptable, isRenewableOverOwnDecline, type AddressContext } from './address-choice.js';
import { chooseDhcpBootFile } from './boot-file.js';
import type { ClientClass } from './classify-client.js';
import { isDeniedUnknown, type DhcpPolicyInput, type PolicyOutcome } from './policy-types.js';
import { addBootInfo, addEchoes, ReplyOptions, replySkeleton } from './reply-packet.js';

/** RFC 2131 §4.3.1: an offered address is held briefly so a parallel DISCOVER gets another one. */
export const OFFER_HOLD_SEC = 60;
/** RFC 2131 §4.3.3 only says "not available"; ten minutes is long enough for the conflicting host to be found. */
export const DECLINE_HOLD_SEC = 600;

export function decideFullDhcp(input: DhcpPolicyInput, client: ClientClass, messageType: number): PolicyOutcome {
  if (isDeniedUnknown(input)) return { reply: null, reason: 'unknown client denied' };
  const ctx: AddressContext = {
    mac: client.mac, node: input.node, settings: input.settings, leases: input.leases, reservedBy: input.reservedBy, cursor: input.poolCursor,
  };
  switch (messageType) {
    case DhcpMessageType.Discover: return discover(input, client, ctx);
    case DhcpMessageType.Request: return request(input, client, ctx);
    case DhcpMessageType.Decline: return decline(input, client, ctx);
    case DhcpMessageType.Release: return release(input, client);
    case DhcpMessageType.Inform: return inform(input, client);
    default: return { reply: null, reason: `${messageTypeName(messageType)} is not handled` };
  }
}

function discover(input: DhcpPolicyInput, client: ClientClass, ctx: AddressContext): PolicyOutcome {
  const choice = chooseAddress(ctx, getOption(input.packet, DhcpOption.requestedIpAddress));
  if (!choice.ok) return { reply: null, reason: `no offer: ${choice.reason}` };
  const reply = replySkeleton(input.packet, DhcpMessageType.Offer, input.settings.serverAddress);
  reply.yiaddr = choice.ip;
  const boot = configure(reply, input, client, true);
  return {
    reply,
    reason: `offer ${choice.ip} (${choice.source})${boot.note}`,
    ...(boot.refused !== undefined ? { refused: boot.refused } : {}),
    lease: { kind: 'offer', mac: client.mac, ip: choice.ip, holdSec: OFFER_HOLD_SEC, ...(input.node?.key !== undefined ? { node: input.node.key } : {}) },
  };
}

/** RFC 2131 §4.3.2: the client's state is told apart by option 54, option 50 and ciaddr. */
function request(input: DhcpPolicyInput, client: ClientClass, ctx: AddressContext): PolicyOutcome {
  const { packet, settings } = input;
  const serverId = getOption(packet, DhcpOption.serverIdentifier);
  const requested = getOption(packet, DhcpOption.requestedIpAddress);
  let ip: string;
  let state: string;
  if (serverId !== undefined) {
    // A request naming a peer that shares our lease table but is gone (it died between its
    // OFFER and this REQUEST) is answered here, from the same table, so the client goes on
    // rather than starting over after its timeouts.
    if (serverId !== settings.serverAddress && !isForGonePeer(input, serverId)) {
      const cancel = { kind: 'cancel-offer', mac: client.mac, ...(requested === undefined ? {} : { ip: requested }) } as const;
      return { reply: null, reason: `client selected server ${serverId}`, quiet: true, lease: cancel };
    }
    if (requested === undefined) return { reply: null, reason: 'SELECTING request without option 50' };
    ip = requested;
    state = serverId === settings.serverAddress ? 'selecting' : `selecting, for gone server ${serverId}`;
  } else if (requested !== undefined) {
    // INIT-REBOOT: "the server SHOULD send a DHCPNAK … if the client is on the wrong network".
    if (!sameSubnet(requested, settings.network, settings.subnetMask) && requested !== input.node?.address) {
      return nak(input, `init-reboot: ${requested} is not on this network`);
    }
    ip = requested;
    state = 'init-reboot';
  } else if (packet.ciaddr !== ZERO_IPV4) {
    // RENEWING (unicast) and REBINDING (broadcast) look the same once received.
    ip = packet.ciaddr;
    state = 'renewing';
  } else {
    return { reply: null, reason: 'REQUEST with neither option 50 nor ciaddr' };
  }
  const acceptable = isAcceptable(ctx, ip) || (state === 'renewing' && isRenewableOverOwnDecline(ctx, ip));
  if (!acceptable) return nak(input, `${state}: ${ip} is not available to this client`);
  const reply = replySkeleton(packet, DhcpMessageType.Ack, settings.serverAddress);
  reply.ciaddr = packet.ciaddr;
  reply.yiaddr = ip;
  const boot = configure(reply, input, client, true);
  const lease = { kind: 'bind', mac: client.mac, ip, leaseSec: settings.leaseTimeSec, ...(input.node?.key !== undefined ? { node: input.node.key } : {}) } as const;
  return {
    reply,
    reason: `ack ${ip} (${state})${boot.note}`,
    ...(boot.refused !== undefined ? { refused: boot.refused } : {}),
    lease: input.node?.hostname === undefined ? lease : { ...lease, hostname: input.node.hostname },
  };
}

function nak(input: DhcpPolicyInput, reason: string): PolicyOutcome {
  const reply = replySkeleton(input.packet, DhcpMessageType.Nak, input.settings.serverAddress);
  reply.options.set(OptionCode.Message, Buffer.from(reason));
  const clientId = input.packet.options.get(OptionCode.ClientIdentifier);
  if (clientId) reply.options.set(OptionCode.ClientIdentifier, clientId);
  return { reply, reason: `nak: ${reason}` };
}

/** The server identifier names a peer sharing our lease table that is gone. */
function isForGonePeer(input: DhcpPolicyInput, serverId: string): boolean {
  return input.peerIsGone?.(serverId) === true;
}

/** A DECLINE or RELEASE for us, or for a gone peer of ours (the lease table is the same). */
function isOurs(input: DhcpPolicyInput): boolean {
  const serverId = getOption(input.packet, DhcpOption.serverIdentifier);
  return serverId === input.settings.serverAddress || (serverId !== undefined && isForGonePeer(input, serverId));
}

function decline(input: DhcpPolicyInput, client: ClientClass, ctx: AddressContext): PolicyOutcome {
  if (!isOurs(input)) {
    return { reply: null, reason: 'DECLINE for another server', quiet: true };
  }
  const ip = getOption(input.packet, DhcpOption.requestedIpAddress);
  if (ip === undefined) return { reply: null, reason: 'DECLINE without option 50' };
  const refusal = declineRefusal(ctx, ip);
  // Only a confused client or a spoofer sends these, and a flood of them must not flood the
  // log: one line each at debug, and a warning the server rate-limits.
  if (refusal !== undefined) return { reply: null, reason: `DECLINE refused: ${refusal}`, quiet: true, suspicious: true };
  return {
    reply: null,
    reason: `client declined ${ip}: address in use on the network, marked unavailable`,
    lease: { kind: 'decline', mac: client.mac, ip, holdSec: DECLINE_HOLD_SEC },
  };
}

function release(input: DhcpPolicyInput, client: ClientClass): PolicyOutcome {
  if (!isOurs(input)) {
    return { reply: null, reason: 'RELEASE for another server', quiet: true };
  }
  const ip = input.packet.ciaddr;
  return { reply: null, reason: `released ${ip}`, lease: { kind: 'release', mac: client.mac, ip } };
}

/** RFC 2131 §3.4: configuration only; no yiaddr and no lease time. */
function inform(input: DhcpPolicyInput, client: ClientClass): PolicyOutcome {
  const reply = replySkeleton(input.packet, DhcpMessageType.Ack, input.settings.serverAddress);
  reply.ciaddr = input.packet.ciaddr;
  const boot = configure(reply, input, client, false);
  return { reply, reason: `inform ack for ${input.packet.ciaddr}${boot.note}`, ...(boot.refused !== undefined ? { refused: boot.refused } : {}) };
}

/**
 * Network parameters and boot info; returns a note on the boot target for the log, and why the
 * machine's boot was refused when it was (it still gets its address).
 */
function configure(reply: DhcpPacket, input: DhcpPolicyInput, client: ClientClass, withLease: boolean): { note: string; refused?: string } {
  const { settings, node, packet } = input;
  const options = new ReplyOptions();
  if (withLease) options.always.set(OptionCode.LeaseTime, u32Option(OptionCode.LeaseTime).encode(settings.leaseTimeSec));
  options.always.set(OptionCode.SubnetMask, ipv4ToBytes(settings.subnetMask));
  if (settings.routers.length > 0) options.ifRequested.set(OptionCode.Routers, Buffer.concat(settings.routers.map(ipv4ToBytes)));
  if (settings.dnsServers.length > 0) options.ifRequested.set(OptionCode.DomainNameServers, Buffer.concat(settings.dnsServers.map(ipv4ToBytes)));
  if (node?.hostname !== undefined) options.ifRequested.set(OptionCode.HostName, Buffer.from(node.hostname));
  if (settings.domainName !== undefined) options.ifRequested.set(OptionCode.DomainName, Buffer.from(settings.domainName));
  if (settings.rootPath !== undefined) options.ifRequested.set(OptionCode.RootPath, Buffer.from(settings.rootPath));
  if (settings.broadcastAddress !== undefined) options.ifRequested.set(OptionCode.BroadcastAddress, ipv4ToBytes(settings.broadcastAddress));
  addEchoes(options, packet);
  const target = chooseDhcpBootFile(client, node ?? input.unknownLoader, settings);
  if (target.ok) addBootInfo(reply, options, target, settings);
  options.applyTo(reply, packet);
  if (target.ok) return { note: `, boot ${target.file}` };
  return { note: `, no boot info: ${target.reason}`, ...(target.refused ? { refused: target.reason } : {}) };
}
