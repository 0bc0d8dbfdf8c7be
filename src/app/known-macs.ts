/** Where the server may have met a machine; each answers for one MAC. */
export interface MacSources {
  /** The inventory as it is now (reloads included). */
  inventory(mac: string): boolean;
  /** DHCP leases, offers and declines; undefined when dhcp.mode is off. */
  leases?: ((mac: string) => boolean) | undefined;
  /** Unknown machines seen asking for an address or a boot script (STATE/discovered.json). */
  discovered(mac: string): boolean;
  /** Machines with a boot state: seen by DHCP, TFTP, HTTP or NBD, or reporting earlier. */
  states(mac: string): boolean;
}

/**
 * Whether a node report may name this MAC: only machines the inventory lists or the server's
 * own services have seen. A report names its MAC itself, with no authentication; without this
 * check any host could make the server keep state for any number of made-up machines.
 */
export function knownMac(sources: MacSources): (mac: string) => boolean {
  return (mac) => sources.inventory(mac) || (sources.leases?.(mac) ?? false) || sources.discovered(mac) || sources.states(mac);
}
