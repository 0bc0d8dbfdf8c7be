import { BootOp, type DhcpPacket } from '../protocols/dhcp/packet.js';
import { OptionCode } from '../protocols/dhcp/option-codes.js';
import { getOption } from '../protocols/dhcp/option-spec.js';
import { DhcpOption } from '../protocols/dhcp/dhcp-options.js';
import { ipv4ToBytes, ZERO_IPV4 } from '../protocols/dhcp/ipv4-bytes.js';
import type { DhcpBootFile } from './boot-file.js';
import type { DhcpSettings } from './settings.js';

/** RFC 2131 §4.3.1 table 3: the fields every server reply copies from the request. */
export function replySkeleton(request: DhcpPacket, messageType: number, serverAddress: string): DhcpPacket {
  return {
    op: BootOp.Reply,
    htype: request.htype,
    hlen: request.hlen,
    hops: 0,
    xid: request.xid,
    secs: 0,
    flags: request.flags,
    ciaddr: ZERO_IPV4,
    yiaddr: ZERO_IPV4,
    siaddr: ZERO_IPV4,
    giaddr: request.giaddr,
    chaddr: Buffer.from(request.chaddr),
    sname: '',
    file: '',
    options: new Map([
      [OptionCode.MessageType, Buffer.from([messageType])],
      [OptionCode.ServerIdentifier, ipv4ToBytes(serverAddress)],
    ]),
  };
}

/**
 * Options the reply may carry, split by whether they go out unasked. RFC 2132 §9.8: requested
 * options go "in the order requested by the client"; RFC 2131 §4.3.1: parameters a client did
 * not ask for are sent only when the server must (lease time, server id) or the client sent
 * no request list at all.
 */
export class ReplyOptions {
  readonly always = new Map<number, Buffer>();
  readonly ifRequested = new Map<number, Buffer>();

  /** Appends to `reply.options` (which already holds 53 and 54). */
  applyTo(reply: DhcpPacket, request: DhcpPacket): void {
    const requested = getOption(request, DhcpOption.parameterRequestList);
    const add = (code: number, value: Buffer | undefined): void => {
      if (value !== undefined && !reply.options.has(code)) reply.options.set(code, value);
    };
    if (requested) {
      for (const code of requested) add(code, this.always.get(code) ?? this.ifRequested.get(code));
    } else {
      for (const [code, value] of this.ifRequested) add(code, value);
    }
    for (const [code, value] of this.always) add(code, value);
  }
}

/** Echoes required by RFC 6842 (client id) and the PXE spec (machine id in every PXE reply). */
export function addEchoes(options: ReplyOptions, request: DhcpPacket): void {
  const clientId = request.options.get(OptionCode.ClientIdentifier);
  if (clientId) options.always.set(OptionCode.ClientIdentifier, clientId);
  const machineId = request.options.get(OptionCode.ClientMachineId);
  if (machineId) options.always.set(OptionCode.ClientMachineId, machineId);
}

/**
 * RFC 3046 §2.2: a server that receives option 82 "MUST copy the Relay Agent Information
 * option as the last DHCP option in the response", byte for byte: the relay reads it to find
 * the client's port again, and strips it. Only a relayed request (giaddr set) has a relay to
 * read it; option 82 on an unrelayed request was put there by the client, which gets nothing
 * back of it.
 */
export function echoRelayAgentInformation(reply: DhcpPacket, request: DhcpPacket): void {
  const info = request.options.get(OptionCode.RelayAgentInformation);
  reply.options.delete(OptionCode.RelayAgentInformation);
  if (info === undefined || request.giaddr === ZERO_IPV4) return;
  reply.options.set(OptionCode.RelayAgentInformation, info);
}

const FILE_FIELD_MAX = 127;

/** siaddr, `file`, 66/67 and, for UEFI HTTP boot, option 60 "HTTPClient". */
export function addBootInfo(reply: DhcpPacket, options: ReplyOptions, target: DhcpBootFile & { ok: true }, settings: DhcpSettings): void {
  reply.siaddr = settings.serverAddress;
  options.ifRequested.set(OptionCode.TftpServerName, Buffer.from(settings.serverAddress));
  const file = Buffer.from(target.file, 'utf8');
  if (file.length <= FILE_FIELD_MAX) {
    reply.file = target.file;
    options.ifRequested.set(OptionCode.BootfileName, file);
  } else {
    // Too long for the 128-byte field (long HTTP URLs): iPXE and EDK II both read option 67 first.
    options.always.set(OptionCode.BootfileName, file);
  }
  // UEFI spec, HTTP Boot chapter: firmware ignores offers whose option 60 is not "HTTPClient".
  if (target.httpClient) options.always.set(OptionCode.VendorClassIdentifier, Buffer.from('HTTPClient'));
}
