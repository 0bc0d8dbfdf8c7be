import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { normalizeMac } from '../net/mac.js';

/** Which MAC holds an IPv4 address on our link right now, or undefined if unknown. */
export type AddressOwner = (ip: string) => Promise<string | undefined>;

// ATF_COM (0x2): a completed entry; incomplete ones carry 00:00:00:00:00:00.
const ATF_COM = 0x2;

/** Entries of /proc/net/arp: "IP address  HW type  Flags  HW address  Mask  Device". */
export function parseProcNetArp(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n').slice(1)) {
    const [ip, , flags, hw] = line.trim().split(/\s+/);
    if (!ip || !flags || !hw || (parseInt(flags, 16) & ATF_COM) === 0) continue;
    const mac = normalizeMac(hw);
    if (mac) out.set(ip, mac);
  }
  return out;
}

/**
 * The kernel's neighbour table says which machine sent a request from this IP: the TCP
 * handshake of an HTTP request (or a TFTP reply) has just resolved it. That is what binds a
 * boot script's token to the machine asking, rather than to whatever MAC the URL names.
 */
export function neighbourTableOwner(path = '/proc/net/arp'): AddressOwner {
  return async (ip) => {
    const text = await readFile(path, 'utf8').catch(() => '');
    return parseProcNetArp(text).get(ip.replace(/^::ffff:/, ''));
  };
}

/**
 * The neighbour table for callers that cannot wait (tying a transfer's IP to a MAC as the event
 * is recorded): read synchronously, at most once per `maxAgeMs`, since /proc/net/arp is small
 * but a boot makes many transfers.
 */
export function neighbourTableSnapshot(path = '/proc/net/arp', maxAgeMs = 1000, now: () => number = Date.now): (ip: string) => string | undefined {
  let table = new Map<string, string>();
  let readAt = -Infinity;
  return (ip) => {
    if (now() - readAt >= maxAgeMs) {
      readAt = now();
      let text = '';
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        // No /proc (a container without it): leases and reservations still answer.
      }
      table = parseProcNetArp(text);
    }
    return table.get(ip.replace(/^::ffff:/, ''));
  };
}
