import type { DisklessConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { DhcpPacket } from '../protocols/dhcp/packet.js';
import type { DhcpDecision } from '../dhcp/policy.js';
import { dhcpSighting, isBootCandidate } from '../dhcp/unknown-client-sighting.js';
import { DiscoveredStore, discoveredPath, type DiscoveredMachine, type DiscoveredSource } from '../inventory/discovered.js';
import { parseIpv4 } from '../net/ipv4.js';

/** The server's side of `unknown_clients: register` and `diskless node discovered`. */
export interface Discovery {
  /** For DhcpServer's onUnknownClient. */
  onDhcp(request: DhcpPacket, decision: DhcpDecision): void;
  /** For the boot tree's onUnknownMac hook. */
  onScript(mac: string, peer: string | undefined): void;
  /** Every machine recorded, adopted ones included (the API filters by the live inventory). */
  list(): DiscoveredMachine[];
  /** Whether DHCP or a boot script fetch recorded this machine (and the cap has not dropped it). */
  has(mac: string): boolean;
  close(): Promise<void>;
}

/**
 * Records every unknown machine whatever unknown_clients says, so an admin can see what tried
 * to boot even under deny. The store's file lives in state_dir, which therefore must exist.
 */
export async function startDiscovery(config: DisklessConfig, logger: Logger, shared?: DiscoveredSource): Promise<Discovery> {
  // Several servers: the state database's (every server's sightings); one: state_dir's file.
  const store = shared ?? await DiscoveredStore.open({ path: discoveredPath(config.server.stateDir), logger });
  return {
    onDhcp: (request, decision) => {
      if (isBootCandidate(decision)) store.record(dhcpSighting(request, decision));
    },
    // The peer is the socket's remote address ("?" when the socket is already gone).
    onScript: (mac, peer) => store.record({ mac, ...(peer && parseIpv4(peer) !== undefined ? { ip: peer } : {}) }),
    list: () => store.list(),
    has: (mac) => store.has(mac),
    close: () => store.close(),
  };
}
