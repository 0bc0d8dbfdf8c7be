import type { DhcpPacket } from '../protocols/dhcp/packet.js';
import type { ClientClass } from './classify-client.js';
import type { DhcpNode, DhcpSettings, LoaderChoice } from './settings.js';
import type { LeaseAction, LeaseView } from './lease-table.js';
import type { PoolCursor } from './address-choice.js';

export interface DhcpPolicyInput {
  packet: DhcpPacket;
  /** The socket it arrived on: the DHCP server port (67) or the PXE proxy port (4011). */
  port: 'server' | 'proxy';
  settings: DhcpSettings;
  /** The inventory entry for this client's MAC, if any. */
  node: DhcpNode | undefined;
  /** The default profile's loader, for a machine the inventory does not list. */
  unknownLoader?: LoaderChoice | undefined;
  leases: LeaseView;
  /** MAC of the node that has `ip` as its fixed reservation, so dynamic allocation skips it. */
  reservedBy?: (ip: string) => string | undefined;
  /** The server's pool cursor: the next pool scan starts after the last address handed out. */
  poolCursor?: PoolCursor;
  /**
   * Whether a server identifier (option 54) names another boot server sharing our lease table
   * that is gone: requests naming it are then answered here (absent: there are no such peers).
   */
  peerIsGone?: (serverId: string) => boolean;
}

export interface DhcpDecision {
  /** The reply to send, or null to stay silent. */
  reply: DhcpPacket | null;
  /** Why, in a few words, for the log line. */
  reason: string;
  /** The lease change the caller should apply (the policy never writes). */
  lease?: LeaseAction;
  /** Traffic meant for someone else (another server, a non-PXE client in proxy mode): log at debug. */
  quiet?: boolean;
  /**
   * A request only a confused or a spoofing client sends (a DECLINE of an address it was not
   * given): dropped, and summarised in a rate-limited warning so a flood cannot flood the log.
   */
  suspicious?: boolean;
  /**
   * Why this machine's boot cannot work as configured (its kernel is for another architecture):
   * no boot file was given, and the event says so for the node's timeline.
   */
  refused?: string;
  client: ClientClass;
  /** The mode of the subnet that decided (full or proxy). */
  mode?: 'full' | 'proxy';
  /** Option 53 of the request, when valid. */
  messageType?: number;
}

export type PolicyOutcome = Omit<DhcpDecision, 'client' | 'messageType'>;

export function isDeniedUnknown(input: DhcpPolicyInput): boolean {
  return input.node === undefined && input.settings.unknownClients === 'deny';
}
