/** DHCP option codes this project reads or writes (RFC 2132 unless noted). */
export const OptionCode = {
  Pad: 0,
  SubnetMask: 1,
  Routers: 3,
  DomainNameServers: 6,
  HostName: 12,
  DomainName: 15,
  RootPath: 17,
  BroadcastAddress: 28,
  VendorSpecific: 43,
  RequestedIpAddress: 50,
  LeaseTime: 51,
  OptionOverload: 52,
  MessageType: 53,
  ServerIdentifier: 54,
  ParameterRequestList: 55,
  Message: 56,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  VendorClassIdentifier: 60,
  ClientIdentifier: 61,
  TftpServerName: 66,
  BootfileName: 67,
  /** RFC 3004 */
  UserClass: 77,
  /** RFC 4578 */
  ClientSystemArchitecture: 93,
  /** RFC 4578 */
  ClientNetworkInterface: 94,
  /** RFC 4578 */
  ClientMachineId: 97,
  /** RFC 3046: Relay Agent Information, added by relays, echoed by servers. */
  RelayAgentInformation: 82,
  /** iPXE's encapsulated options (feature flags, settings); listed for names only. */
  IpxeEncapsulated: 175,
  End: 255,
} as const;

const NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(OptionCode).map(([name, value]) => [value, name]),
);

/** "SubnetMask", "UserClass", … or "Option<n>" for codes outside this table. */
export function optionName(code: number): string {
  return NAMES.get(code) ?? `Option${code}`;
}

/** PXE sub-options carried inside option 43 (PXE 2.1 spec, table 2-1). */
export const PxeSubOption = {
  DiscoveryControl: 6,
  BootServers: 8,
  BootMenu: 9,
  MenuPrompt: 10,
  BootItem: 71,
} as const;

/**
 * PXE_DISCOVERY_CONTROL bits (PXE 2.1 §2.2.5). Bit 3 tells the ROM to skip boot server
 * discovery and download the `file` of the offer that carried it, which is how a proxyDHCP
 * server hands out a boot file without answering on port 4011 first.
 */
export const PxeDiscoveryControl = {
  DisableBroadcast: 1,
  DisableMulticast: 2,
  OnlyListedServers: 4,
  BootFromFilename: 8,
} as const;
