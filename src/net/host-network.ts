import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { formatIpv4, maskToPrefix, parseIpv4 } from './ipv4.js';

/** An interface's first IPv4 address, as the host has it configured now. */
export interface InterfaceAddress {
  name: string;
  address: string;
  netmask: string;
  prefix: number;
  mac: string;
}

/** IPv4 addresses of the host's interfaces (loopback left out), for messages that list them. */
export function hostInterfaces(): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    const a = addrs?.find((x) => x.family === 'IPv4' && !x.internal);
    if (a) out.push({ name, address: a.address, netmask: a.netmask, prefix: maskToPrefix(a.netmask) ?? 32, mac: a.mac });
  }
  return out;
}

/** The interface's IPv4 address, or undefined when it has none (or does not exist). */
export function interfaceAddress(name: string): InterfaceAddress | undefined {
  return hostInterfaces().find((i) => i.name === name);
}

/** Default routes from the kernel's table (/proc/net/route): interface and gateway. */
export function defaultGateways(routeTable?: string): Array<{ interface: string; gateway: string }> {
  let text = routeTable;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/net/route', 'utf8');
    } catch {
      return [];
    }
  }
  const out: Array<{ interface: string; gateway: string }> = [];
  for (const line of text.split('\n').slice(1)) {
    const [iface, dest, gw, , , , , mask] = line.trim().split(/\s+/);
    if (!iface || dest !== '00000000' || mask !== '00000000' || !gw || gw === '00000000') continue;
    // The kernel prints addresses in host byte order (little-endian here).
    const n = Buffer.from(gw, 'hex').readUInt32LE(0);
    out.push({ interface: iface, gateway: formatIpv4(n) });
  }
  return out;
}

/** Name servers (IPv4) and the first search domain of a resolv.conf. */
export function resolverSettings(text?: string): { nameservers: string[]; domain?: string } {
  let conf = text;
  if (conf === undefined) {
    try {
      conf = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      return { nameservers: [] };
    }
  }
  const nameservers: string[] = [];
  let domain: string | undefined;
  for (const line of conf.split('\n')) {
    const [key, ...values] = line.trim().split(/\s+/);
    if (key === 'nameserver' && values[0] !== undefined && parseIpv4(values[0]) !== undefined) nameservers.push(values[0]);
    if ((key === 'search' || key === 'domain') && domain === undefined && values[0] !== undefined) domain = values[0];
  }
  return { nameservers, ...(domain !== undefined ? { domain } : {}) };
}
