import type { DhcpEvent } from '../protocols/dhcp/server.js';
import type { NodeConfig } from '../config/types.js';
import type { NewBootEvent } from './boot-event.js';
import { samePort, switchPortText, type SwitchPort } from '../net/switch-port.js';

/** The event's name: a listed node's machine reported by a trusted relay on another port. */
export const NODE_ON_OTHER_PORT = 'node-on-other-port';

/**
 * Watches DHCP events for a node that lists both a MAC and a switch port showing up, by its
 * MAC, on another port than the one listed: the machine was moved or recabled, or another
 * machine claims its MAC. The node is still served by its MAC (a MAC match names the machine
 * itself), so nothing else would show it. Only a port a trusted relay reports counts (a relay
 * of a subnet reached through relays only, from port 67: see relayAgentSeen in
 * src/dhcp/responder.ts). One alert per MAC and port: a boot's several DHCP exchanges on the
 * same wrong port raise it once, the port listed again ends it, another wrong port raises it
 * anew. Memory is bounded by the inventory: only nodes listing a switch port are remembered.
 */
export class PortWatch {
  readonly #alerted = new Map<string, string>();

  /** The alert event for `e`, or undefined. `node`: the inventory node listing e.mac, if any. */
  check(e: DhcpEvent, node: NodeConfig | undefined): NewBootEvent | undefined {
    const listed = node?.switchPort;
    const agent = e.agent;
    if (listed === undefined || node?.mac !== e.mac || !agent?.trusted || agent.circuitId === undefined) return undefined;
    const seen: SwitchPort = { circuitId: agent.circuitId, ...(agent.remoteId !== undefined ? { remoteId: agent.remoteId } : {}) };
    if (samePort(seen, listed)) {
      this.#alerted.delete(e.mac);
      return undefined;
    }
    const seenText = switchPortText(seen);
    if (this.#alerted.get(e.mac) === seenText) return undefined;
    this.#alerted.set(e.mac, seenText);
    const name = node.hostname ?? e.mac;
    return {
      time: e.at,
      mac: e.mac,
      ...(e.ip !== undefined ? { ip: e.ip } : {}),
      kind: 'alert',
      name: NODE_ON_OTHER_PORT,
      detail: `${name} (${e.mac}) is listed on ${switchPortText(listed)} but its relay${e.giaddr ? ` ${e.giaddr}` : ''} reports it on ${seenText}; it is served as ${name} by its MAC. If it was moved, change its switch_port (diskless node set ${e.mac} --circuit-id …); if not, another machine is using its MAC`,
      fields: {
        listedCircuitId: listed.circuitId,
        ...(listed.remoteId !== undefined ? { listedRemoteId: listed.remoteId } : {}),
        circuitId: seen.circuitId,
        ...(seen.remoteId !== undefined ? { remoteId: seen.remoteId } : {}),
        ...(e.giaddr !== undefined ? { giaddr: e.giaddr } : {}),
        ...(node.hostname !== undefined ? { node: node.hostname } : {}),
      },
    };
  }
}
