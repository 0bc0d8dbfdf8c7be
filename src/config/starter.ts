import { formatIpv4, parseIpv4, prefixToMask } from '../net/ipv4.js';

/** What `diskless init` found out about the host and the LAN it will serve. */
export interface StarterFacts {
  interface: string;
  /** The interface's IPv4 address and prefix. */
  address: string;
  prefix: number;
  /** The host's default gateway when it lies on this LAN. */
  router?: string;
  /** IPv4 name servers from the host's resolv.conf (loopback ones left out: nodes cannot use them). */
  dns: string[];
  domain?: string;
  /** Other DHCP servers that answered a DISCOVER on the interface. */
  otherDhcpServers: Array<{ serverId: string; offered: string }>;
  /** For the header line. */
  hostname: string;
  date: string;
}

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * The dynamic pool proposed for a subnet: from about 40 % to about 80 % of it (10.0.0.100 to
 * 10.0.0.200 in a /24), leaving the low addresses to routers and servers and the high ones to
 * reservations, with the server's own address kept out. Undefined for subnets too small to share.
 */
export function proposedPool(address: string, prefix: number): { start: string; end: string } | undefined {
  const ip = parseIpv4(address);
  if (ip === undefined || prefix < 8 || prefix > 29) return undefined;
  const size = 2 ** (32 - prefix);
  const network = (ip - (ip % size)) >>> 0;
  let start = network + Math.max(1, Math.round((size * 100) / 256));
  let end = network + Math.min(size - 2, Math.round((size * 200) / 256));
  if (ip >= start && ip <= end) {
    // Keep the larger side of the server's address.
    if (ip - start >= end - ip) end = ip - 1;
    else start = ip + 1;
  }
  return end > start ? { start: formatIpv4(start), end: formatIpv4(end) } : undefined;
}

const pad = (line: string, comment: string) => `${line.length < 30 ? line.padEnd(31) : `${line}  `}# ${comment}`;

/**
 * The commented config `diskless init` writes: what it found about the host, why it chose full
 * or proxy DHCP, and the next steps. The values come from the host (interface names, addresses
 * and a resolv.conf domain, all checked here), never from what another DHCP server sent except
 * its address, which only appears in a comment.
 */
export function starterConfig(f: StarterFacts): string {
  const proxy = f.otherDhcpServers.length > 0;
  const pool = proposedPool(f.address, f.prefix);
  const domain = f.domain !== undefined && DNS_NAME.test(f.domain) ? f.domain : undefined;
  const dns = f.dns.filter((d) => parseIpv4(d) !== undefined && !d.startsWith('127.'));
  const router = f.router !== undefined && parseIpv4(f.router) !== undefined ? f.router : undefined;
  const lines = [
    `# Diskless config for ${f.hostname}, written by "diskless init --interface ${f.interface}" on ${f.date}.`,
    '# Every key and its default: /usr/share/doc/diskless/README.md (or README.md in the sources).',
    '# Check the host and the LAN with "diskless doctor"; "diskless serve" (systemctl enable --now',
    '# diskless) reads this file, and follows edits to profiles and nodes while it runs.',
    '',
    'server:',
    pad(`  address: ${f.address}`, `${f.interface}'s address: where machines reach this server`),
    pad(`  interface: ${f.interface}`, 'DHCP answers on this interface only'),
    pad('  answer_router_solicitations: true', 'iPXE stops waiting ~13 s for an IPv6 router'),
    pad('  # state_dir: /var/lib/diskless', 'images, leases, secrets, boot events (default)'),
    '',
    'dhcp:',
  ];
  if (proxy) {
    const who = f.otherDhcpServers.map((s) => `${s.serverId}${s.offered !== '0.0.0.0' ? ` (offered ${s.offered})` : ''}`).join(', ');
    lines.push(
      `  # Another DHCP server answers on ${f.interface}: ${who}.`,
      '  # proxy: it keeps handing out addresses, this server only tells PXE machines what to boot.',
      '  # To hand out addresses here instead, stop it and use mode: full with a pool.',
      '  mode: proxy',
    );
  } else {
    lines.push(
      `  # No other DHCP server answered on ${f.interface}: this server hands out the addresses.`,
      '  mode: full',
      pool ? pad(`  pool: ${pool.start}-${pool.end}`, 'addresses for machines without a reservation') : '  # pool: FIRST-LAST                # addresses for machines without a reservation',
      pad(`  subnet_mask: ${prefixToMask(f.prefix)}`, `/${f.prefix}, as on ${f.interface}`),
      router ? pad(`  routers: [${router}]`, "this host's default gateway") : pad('  # routers: [GATEWAY]', 'no default gateway found on this LAN'),
      dns.length ? pad(`  dns: [${dns.join(', ')}]`, "this host's name servers (/etc/resolv.conf)") : pad('  # dns: [SERVER]', 'no usable name server in /etc/resolv.conf'),
      ...(domain ? [pad(`  domain: ${domain}`, "this host's search domain")] : []),
    );
  }
  lines.push(
    pad('  unknown_clients: register', 'unknown machines wait to be adopted:'),
    pad('', '"diskless node discovered", then'),
    pad('', '"diskless node adopt MAC --hostname H"'),
    '',
    'profiles:',
    '  default:',
    '    # Boots the published version of image "debian"; make one with',
    '    #   diskless image build debian --from mmdebstrap:bookworm --include linux-image-amd64,systemd-sysv,udev',
    '    #   diskless image publish debian VERSION',
    '    image: debian',
    '    cmdline: console=tty0 console=ttyS0',
    '',
    pad('default_profile: default', 'what adopted and unknown machines boot'),
    '',
    '# One entry per machine (or adopt them as they appear):',
    '#   - { mac: 52:54:00:12:34:56, hostname: node1, address: 10.0.0.21 }',
    'nodes: []',
    '',
  );
  return lines.join('\n');
}
