import type { NewBootEvent } from './boot-event.js';

/** Finds the machine behind an IP; undefined when nobody knows it. */
export type MacLookup = (ip: string) => string | undefined;

/**
 * TFTP, HTTP and NBD only see IPs. This remembers the IP each MAC was last given (a DHCP ACK)
 * or last reported from (a node report carries both), and asks `fallback` (leases,
 * reservations in the config) for the rest, so a restart of the server or an external DHCP
 * server still leaves transfers tied to machines.
 */
export class PeerDirectory {
  readonly #byIp = new Map<string, string>();
  readonly #fallback: MacLookup;

  constructor(fallback: MacLookup = () => undefined) {
    this.#fallback = fallback;
  }

  lookup: MacLookup = (ip) => this.#byIp.get(ip) ?? this.#fallback(ip);

  /** Learns from an event that names both a MAC and an IP it holds now. */
  learn(event: Pick<NewBootEvent, 'kind' | 'name' | 'mac' | 'ip'>): void {
    if (!event.mac || !event.ip) return;
    const bound = event.kind === 'dhcp' && event.name === 'ack';
    const reported = event.kind === 'stage' || event.kind === 'booted' || event.kind === 'failed';
    if (!bound && !reported) return;
    // One IP belongs to one machine: a reassigned address must not keep pointing at the old MAC.
    this.#byIp.set(event.ip, event.mac);
  }
}
