/** IPv4 addresses as dotted strings at the edges and unsigned 32-bit numbers inside. */
export function parseIpv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = Number(m[i]);
    if (part > 255) return undefined;
    n = n * 256 + part;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** A netmask is a run of ones then zeros; returns the prefix length or undefined. */
export function maskToPrefix(mask: string): number | undefined {
  const n = parseIpv4(mask);
  if (n === undefined) return undefined;
  const inv = ~n >>> 0;
  if ((inv & (inv + 1)) !== 0) return undefined;
  return 32 - Math.log2(inv + 1);
}

export function prefixToMask(prefix: number): string {
  return formatIpv4(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
}

export function sameSubnet(a: string, b: string, mask: string): boolean {
  const [x, y, m] = [parseIpv4(a), parseIpv4(b), parseIpv4(mask)];
  if (x === undefined || y === undefined || m === undefined) return false;
  return ((x & m) >>> 0) === ((y & m) >>> 0);
}

/** pxelinux looks for pxelinux.cfg/<address in 8 upper-case hex digits>, then shorter prefixes of it. */
export function ipv4ToHex(s: string): string | undefined {
  const n = parseIpv4(s);
  return n === undefined ? undefined : n.toString(16).toUpperCase().padStart(8, '0');
}
