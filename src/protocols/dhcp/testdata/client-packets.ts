import { BootOp, BROADCAST_FLAG, type DhcpPacket } from '../packet.js';
import { DhcpMessageType } from '../message-types.js';
import { OptionCode } from '../option-codes.js';
import { ipv4ToBytes } from '../ipv4-bytes.js';

export interface ClientPacketFields {
  type: number;
  mac: string;
  xid?: number;
  ciaddr?: string;
  giaddr?: string;
  requestedIp?: string;
  serverId?: string;
  vendorClass?: string;
  /** Raw option 77 bytes, e.g. the bare "iPXE" string. */
  userClass?: string;
  arch?: number;
  uuid?: Buffer;
  paramRequest?: number[];
}

/** A client message as a test client would send it; options in a fixed, realistic order. */
export function clientPacket(f: ClientPacketFields): DhcpPacket {
  const chaddr = Buffer.alloc(16);
  Buffer.from(f.mac.split(':').map((h) => parseInt(h, 16))).copy(chaddr);
  const options = new Map<number, Buffer>([[OptionCode.MessageType, Buffer.from([f.type])]]);
  if (f.requestedIp !== undefined) options.set(OptionCode.RequestedIpAddress, ipv4ToBytes(f.requestedIp));
  if (f.serverId !== undefined) options.set(OptionCode.ServerIdentifier, ipv4ToBytes(f.serverId));
  if (f.arch !== undefined) options.set(OptionCode.ClientSystemArchitecture, Buffer.from([f.arch >> 8, f.arch & 0xff]));
  if (f.uuid !== undefined) options.set(OptionCode.ClientMachineId, Buffer.concat([Buffer.from([0]), f.uuid]));
  if (f.vendorClass !== undefined) options.set(OptionCode.VendorClassIdentifier, Buffer.from(f.vendorClass, 'latin1'));
  if (f.userClass !== undefined) options.set(OptionCode.UserClass, Buffer.from(f.userClass, 'latin1'));
  if (f.paramRequest !== undefined) options.set(OptionCode.ParameterRequestList, Buffer.from(f.paramRequest));
  return {
    op: BootOp.Request,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: f.xid ?? 0x1234abcd,
    secs: 0,
    flags: f.type === DhcpMessageType.Discover ? BROADCAST_FLAG : 0,
    ciaddr: f.ciaddr ?? '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: f.giaddr ?? '0.0.0.0',
    chaddr,
    sname: '',
    file: '',
    options,
  };
}
