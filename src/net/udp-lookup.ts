import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';

/**
 * A `lookup` for `dgram.createSocket`: an address literal passes through synchronously, a name
 * goes to dns.lookup. dgram's default sends every datagram through dns.lookup, which answers a
 * literal on the next `process.nextTick`: one extra turn per datagram for servers (DHCP, TFTP)
 * that only ever send to addresses taken from packets.
 */
export function literalLookup(address: string, options: LookupOneOptions, callback: (e: Error | null, address: string, family: number) => void): void {
  const literal = isIP(address);
  if (literal === 0) dnsLookup(address, options, callback);
  else callback(null, address, literal);
}
