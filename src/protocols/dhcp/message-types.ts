/** DHCP message types, option 53 (RFC 2132 §9.6, RFC 4388 for the leasequery values). */
export const DhcpMessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
  ForceRenew: 9,
  LeaseQuery: 10,
  LeaseUnassigned: 11,
  LeaseUnknown: 12,
  LeaseActive: 13,
} as const;

export type DhcpMessageTypeValue = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];

const NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(DhcpMessageType).map(([name, value]) => [value, name.toUpperCase()]),
);

/** "DISCOVER", "ACK", … or "TYPE-<n>" for values outside the registry. */
export function messageTypeName(value: number): string {
  return NAMES.get(value) ?? `TYPE-${value}`;
}
