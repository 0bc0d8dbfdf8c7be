import {
  decodeClientIdentifier, decodeClientMachineId, decodeClientNetworkInterface,
  encodeClientIdentifier, encodeClientMachineId, encodeClientNetworkInterface,
  type ClientIdentifier, type ClientMachineId, type ClientNetworkInterface,
} from './client-identity-options.js';
import { OptionCode } from './option-codes.js';
import {
  ipv4ListOption, ipv4Option, stringOption, u16ListOption, u16Option, u32Option, u8ListOption, u8Option,
  type OptionSpec,
} from './option-spec.js';
import { decodePxeVendorOptions, encodePxeVendorOptions } from './pxe-vendor-options.js';
import { decodeUserClass, encodeUserClass } from './user-class.js';
import { decodeRelayAgentInfo, encodeRelayAgentInfo, type RelayAgentInfo } from './relay-agent-info.js';

/**
 * An option's text as it may be shown or stored: a client chooses these bytes, so anything
 * outside printable ASCII becomes '?' and the length is capped.
 */
export function printableOption(value: string, max = 128): string {
  return value.replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

/** Typed access to the options Diskless reads or writes: `getOption(packet, DhcpOption.routers)`. */
export const DhcpOption = {
  subnetMask: ipv4Option(OptionCode.SubnetMask),
  routers: ipv4ListOption(OptionCode.Routers),
  dnsServers: ipv4ListOption(OptionCode.DomainNameServers),
  hostName: stringOption(OptionCode.HostName),
  domainName: stringOption(OptionCode.DomainName),
  rootPath: stringOption(OptionCode.RootPath),
  broadcastAddress: ipv4Option(OptionCode.BroadcastAddress),
  pxeVendorOptions: {
    code: OptionCode.VendorSpecific,
    decode: decodePxeVendorOptions,
    encode: encodePxeVendorOptions,
  } satisfies OptionSpec<ReadonlyMap<number, Uint8Array>>,
  requestedIpAddress: ipv4Option(OptionCode.RequestedIpAddress),
  leaseTime: u32Option(OptionCode.LeaseTime),
  messageType: u8Option(OptionCode.MessageType),
  serverIdentifier: ipv4Option(OptionCode.ServerIdentifier),
  parameterRequestList: u8ListOption(OptionCode.ParameterRequestList),
  message: stringOption(OptionCode.Message),
  maxMessageSize: u16Option(OptionCode.MaxMessageSize),
  vendorClassIdentifier: stringOption(OptionCode.VendorClassIdentifier),
  clientIdentifier: {
    code: OptionCode.ClientIdentifier,
    decode: decodeClientIdentifier,
    encode: encodeClientIdentifier,
  } satisfies OptionSpec<ClientIdentifier>,
  tftpServerName: stringOption(OptionCode.TftpServerName),
  bootfileName: stringOption(OptionCode.BootfileName),
  userClass: { code: OptionCode.UserClass, decode: decodeUserClass, encode: encodeUserClass } satisfies OptionSpec<string[]>,
  clientArchitectures: u16ListOption(OptionCode.ClientSystemArchitecture),
  clientNetworkInterface: {
    code: OptionCode.ClientNetworkInterface,
    decode: decodeClientNetworkInterface,
    encode: encodeClientNetworkInterface,
  } satisfies OptionSpec<ClientNetworkInterface>,
  clientMachineId: {
    code: OptionCode.ClientMachineId,
    decode: decodeClientMachineId,
    encode: encodeClientMachineId,
  } satisfies OptionSpec<ClientMachineId>,
  relayAgentInformation: {
    code: OptionCode.RelayAgentInformation,
    decode: decodeRelayAgentInfo,
    encode: (info: RelayAgentInfo) => encodeRelayAgentInfo(info),
  } satisfies OptionSpec<RelayAgentInfo>,
} as const;
