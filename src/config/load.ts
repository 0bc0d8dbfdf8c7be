import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar } from 'yaml';
import { isIPv4, isIPv6 } from 'node:net';
import { formatIpv4, parseIpv4, maskToPrefix, prefixToMask } from '../net/ipv4.js';
import { inNetwork, parseCidr } from './subnets.js';
import { normalizeMac } from '../net/mac.js';
import type { ApiConfig, DhcpConfig, DiskConfig, DisklessConfig, NetworkConfig, NodeConfig, ProfileConfig, RootConfig, ServerConfig, SignedChain, SubnetConfig, SwitchPort } from './types.js';
import { canonicalAgentId, switchPortText } from '../net/switch-port.js';
import { readState } from './state-config.js';
import { ConfigError, Fields } from './yaml-fields.js';
import { mergeFileSpecs, readFileSpecs } from './node-files.js';
import { DEFAULT_FAILURE_DELAY_SEC, DEFAULT_MAX_EVENT_STREAMS, DEFAULT_MAX_HTTP_CONNECTIONS, DEFAULT_MAX_HTTP_CONNECTIONS_PER_PEER } from './defaults.js';
import { kernelArgsProblem } from './kernel-args.js';
import { readPowerSettings, resolvePower } from './power.js';
import { kernelFileSignature } from './kernel-signature.js';
import { kernelFileArch } from './kernel-arch.js';
import { menuTargetProblem, readMenu } from './menu.js';

const LOADERS = ['ipxe', 'pxelinux', 'grub'] as const;

/**
 * Where Debian's packages put the signed chain: shim-signed (Microsoft-signed shim) and
 * grub-efi-*-signed (Debian-signed GRUB; "grubnet" is its network image, which reads its
 * config from the server it was loaded from). The arm64 files come from the :arm64 packages.
 */
export const DEFAULT_SIGNED_BOOT = {
  x64: { shim: '/usr/lib/shim/shimx64.efi.signed', grub: '/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed' },
  arm64: { shim: '/usr/lib/shim/shimaa64.efi.signed', grub: '/usr/lib/grub/arm64-efi-signed/grubnetaa64.efi.signed' },
} as const;
// RFC 1123 host name: labels of letters, digits and inner hyphens.
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export function loadConfig(file: string): DisklessConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new ConfigError(abs, undefined, '(file)', `cannot read config: ${(e as Error).message}`);
  }
  return parseConfig(text, abs);
}

export function parseConfig(text: string, file: string): DisklessConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const err = doc.errors[0];
  if (err) {
    const line = lines.linePos(err.pos[0]).line;
    throw new ConfigError(file, line, '(yaml)', err.message.split('\n')[0] ?? 'invalid YAML');
  }
  if (doc.contents !== null && !isMap(doc.contents)) throw new ConfigError(file, 1, '(top)', 'must be a mapping with server, dhcp, profiles, nodes');
  const top = new Fields(file, lines, '', isMap(doc.contents) ? doc.contents : undefined, 1);
  const base = dirname(file);
  const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p));

  const serverFields = top.map('server');
  const server = readServer(serverFields, path);
  const dhcpFields = top.map('dhcp');
  const dhcp = readDhcp(dhcpFields, server);
  if (server.nfsClients !== 'inventory' && server.nfsClients.length === 0) server.nfsClients = dhcp.subnets.map((s) => s.name);
  const api = readApi(top.map('api'), server, dhcp, path);
  const profiles = new Map<string, ProfileConfig>();
  readProfiles(top.entries('profiles'), path, profiles);
  const nodes = top.list('nodes').map((f) => readNode(f, profiles, path));
  const state = readState(top, path);
  const defaultProfile = top.optString('default_profile');
  if (defaultProfile !== undefined && !profiles.has(defaultProfile)) {
    top.fail('default_profile', `names no profile (known: ${[...profiles.keys()].join(', ') || 'none'})`, top.raw('default_profile'));
  }
  top.rejectUnknown();
  checkUnknownClients(dhcpFields, dhcp, defaultProfile);
  checkUnique(top, nodes);
  checkNfsClients(serverFields, server, profiles, nodes);
  checkReservations(file, dhcp, server, nodes);
  checkMenus(file, profiles, nodes);
  return { file, server, dhcp, api, profiles, nodes, state, ...(defaultProfile !== undefined ? { defaultProfile } : {}) };
}

/**
 * A reservation is handed out by a full-mode subnet, so it must lie in one (a proxy subnet's
 * addresses come from another DHCP server, which the reservation only describes).
 */
function checkReservations(file: string, dhcp: DhcpConfig, server: ServerConfig, nodes: NodeConfig[]): void {
  const full = dhcp.subnets.filter((s) => s.mode === 'full');
  if (full.length === 0) return;
  for (const n of nodes) {
    if (n.address === undefined || dhcp.subnets.some((s) => inNetwork(n.address!, s.network, s.prefix))) continue;
    const only = dhcp.subnets.length === 1 && dhcp.subnets[0]!.serverAddress === server.address && dhcp.subnets[0]!.attached;
    const where = only ? `the subnet of server.address ${server.address}/${full[0]!.prefix}` : `any of dhcp.subnets (${dhcp.subnets.map((s) => s.name).join(', ')})`;
    throw new ConfigError(file, undefined, `nodes[${n.mac ?? n.hostname}].address`, `${n.address} is not in ${where}`);
  }
}

function ipv4(f: Fields, key: string, value: string | undefined): string | undefined {
  if (value !== undefined && parseIpv4(value) === undefined) f.fail(key, `${JSON.stringify(value)} is not an IPv4 address`, f.raw(key));
  return value;
}

function readServer(f: Fields, path: (p: string) => string): ServerConfig {
  const address = ipv4(f, 'address', f.string('address'))!;
  const iface = f.optString('interface');
  const tftpRoot = f.optString('tftp_root');
  const syslinux = f.strings('syslinux_dirs');
  const stateDir = path(f.string('state_dir', '/var/lib/diskless'));
  const s: ServerConfig = {
    address,
    httpPort: f.int('http_port', 80, 1, 65535),
    tftpPort: f.int('tftp_port', 69, 1, 65535),
    nbdPort: f.int('nbd_port', 10809, 1, 65535),
    // Defaults are TftpServer's and NbdServer's own. Each TFTP transfer holds an ephemeral UDP
    // port, and Linux has about 28,000 of them.
    maxTftpTransfers: f.int('max_tftp_transfers', 256, 1, 16384),
    // Firmware fetches one file at a time; 4 leaves room for a resent request and a tsize probe.
    maxTftpTransfersPerPeer: f.int('max_tftp_transfers_per_peer', 4, 1, 16384),
    maxNbdConnections: f.int('max_nbd_connections', 512, 1, 65535),
    maxHttpConnections: f.int('max_http_connections', DEFAULT_MAX_HTTP_CONNECTIONS, 1, 65535),
    maxHttpConnectionsPerPeer: f.int('max_http_connections_per_peer', DEFAULT_MAX_HTTP_CONNECTIONS_PER_PEER, 1, 65535),
    // A node's kernel holds one connection; nbdcopy opens four.
    maxNbdConnectionsPerPeer: f.int('max_nbd_connections_per_peer', 8, 1, 65535),
    // Blocks of served files kept in memory for HTTP and NBD (src/files/block-cache.ts): room for
    // a few images' roots with their kernels and initrds (a file is kept when it is at most half
    // of it); 0 turns it off.
    fileCacheBytes: f.int('file_cache_mb', 1024, 0, 1048576) * 1024 * 1024,
    tokenTtlSec: f.int('token_ttl', 300, 10, 3600),
    secretsWindowSec: f.int('secrets_window', 900, 60, 86400),
    httpsPort: f.int('https_port', 443, 1, 65535),
    answerRouterSolicitations: routerSolicitations(f),
    nfsClients: readNfsClients(f),
    stateDir,
    tlsCertFile: path(f.string('tls_cert', `${stateDir}/tls/server.crt`)),
    tlsKeyFile: path(f.string('tls_key', `${stateDir}/tls/server.key`)),
    ipxeDir: path(f.string('ipxe_dir', '/usr/lib/ipxe')),
    syslinuxDirs: (syslinux.length ? syslinux : ['/usr/lib/PXELINUX', '/usr/lib/syslinux/modules/bios']).map(path),
    signedBoot: readSignedBoot(f.map('signed_boot'), path),
    ...(iface !== undefined ? { interface: iface } : {}),
    ...(tftpRoot !== undefined ? { tftpRoot: path(tftpRoot) } : {}),
  };
  if (iface !== undefined && !/^[A-Za-z0-9_.:-]{1,15}$/.test(iface)) f.fail('interface', `"${iface}" is not a network interface name`, f.raw('interface'));
  if (f.has('tls_cert') !== f.has('tls_key')) f.fail(f.has('tls_cert') ? 'tls_cert' : 'tls_key', 'give tls_cert and tls_key together (or neither: a certificate is then made at first start)', f.raw(f.has('tls_cert') ? 'tls_cert' : 'tls_key'));
  if (s.httpsPort === s.httpPort) f.fail('https_port', `must differ from http_port (${s.httpPort})`, f.raw('https_port'));
  if (s.answerRouterSolicitations === true && iface === undefined) f.fail('answer_router_solicitations', 'needs server.interface: the link to answer on', f.raw('answer_router_solicitations'));
  f.rejectUnknown();
  return s;
}

// `auto` (the default) answers only on an IPv4-only link: see src/native/ra-policy.ts.
function routerSolicitations(f: Fields): 'auto' | boolean {
  const n = f.raw('answer_router_solicitations');
  if (isScalar(n) && n.value === 'auto') return 'auto';
  if (n !== undefined && !(isScalar(n) && (typeof n.value === 'boolean' || n.value === null))) {
    f.fail('answer_router_solicitations', 'must be auto, true or false', n);
  }
  return n === undefined || (isScalar(n) && n.value === null) ? 'auto' : f.bool('answer_router_solicitations', false);
}

/**
 * server.signed_boot: { x64: { shim, grub }, arm64: { shim, grub } }, each file defaulting to
 * Debian's. A site with its own keys (enrolled in db or as a MOK) names its own signed files.
 */
function readSignedBoot(f: Fields, path: (p: string) => string): ServerConfig['signedBoot'] {
  const chain = (arch: 'x64' | 'arm64'): SignedChain => {
    const c = f.map(arch);
    const out = { shim: path(c.string('shim', DEFAULT_SIGNED_BOOT[arch].shim)), grub: path(c.string('grub', DEFAULT_SIGNED_BOOT[arch].grub)) };
    c.rejectUnknown();
    return out;
  };
  const out = { x64: chain('x64'), arm64: chain('arm64') };
  f.rejectUnknown();
  return out;
}

const SINGLE_SUBNET_KEYS = ['pool', 'subnet_mask', 'routers', 'broadcast'] as const;

/**
 * `dhcp:` holds the mode, unknown_clients, root_path and either `subnets:` (a list, each
 * with its own network, pool, routers, …; `dns`, `domain`, `lease_time` and `mode` under
 * `dhcp` are their defaults) or the single-pool form (pool, subnet_mask, routers, … directly
 * under `dhcp`), which is one subnet: the network of server.address, on server.interface.
 */
function readDhcp(f: Fields, server: ServerConfig): DhcpConfig {
  const mode = f.oneOf('mode', ['full', 'proxy', 'off'] as const, 'proxy');
  const defaultMode = mode === 'off' ? 'proxy' : mode;
  const domain = readDomain(f);
  const dns = readAddresses(f, 'dns');
  const leaseTimeSec = readLeaseTime(f, 3600);
  const rootPath = f.optString('root_path');
  const unknownClients = f.oneOf('unknown_clients', ['allow', 'deny', 'register'] as const, 'allow');
  let subnets: SubnetConfig[];
  if (f.has('subnets')) {
    for (const key of SINGLE_SUBNET_KEYS) {
      if (f.has(key)) f.fail(key, `belongs to one subnet: move it into its entry under dhcp.subnets (dhcp.dns, domain, lease_time and mode may stay here as defaults)`, f.raw(key));
    }
    const defaults = { mode: defaultMode, dns, leaseTimeSec, ...(domain !== undefined ? { domain } : {}) };
    const items = f.list('subnets');
    subnets = items.map((sf) => readSubnet(sf, server, defaults));
    if (subnets.length === 0 && mode !== 'off') f.fail('subnets', 'lists no subnet (give at least one, or use dhcp.mode: off)', f.raw('subnets'));
    checkSubnetsApart(items, subnets);
  } else {
    subnets = [readSingleSubnet(f, server, { mode: defaultMode, dns, leaseTimeSec, ...(domain !== undefined ? { domain } : {}) })];
  }
  const d: DhcpConfig = {
    mode,
    subnets,
    unknownClients,
    ...(domain !== undefined ? { domain } : {}),
    ...(rootPath !== undefined ? { rootPath } : {}),
  };
  f.rejectUnknown();
  return d;
}

interface SubnetDefaults {
  mode: 'full' | 'proxy';
  dns: string[];
  leaseTimeSec: number;
  domain?: string;
}

// Handed to every node (DHCP option 15), which writes it into /etc/hosts and resolv.conf.
function readDomain(f: Fields): string | undefined {
  const domain = f.optString('domain');
  if (domain !== undefined && !HOSTNAME.test(domain)) f.fail('domain', `${JSON.stringify(domain)} is not a domain name (letters, digits, "-", dots between labels)`, f.raw('domain'));
  return domain;
}

function readAddresses(f: Fields, key: string): string[] {
  const list = f.strings(key);
  list.forEach((a) => ipv4(f, key, a));
  return list;
}

function readLeaseTime(f: Fields, fallback: number): number {
  return f.int('lease_time', fallback, 60, 365 * 86400);
}

function readPool(f: Fields, network: { address: string; prefix: number }, outside: (a: string) => string): { start: string; end: string } | undefined {
  const poolText = f.optString('pool');
  if (poolText === undefined) return undefined;
  const m = /^\s*([\d.]+)\s*-\s*([\d.]+)\s*$/.exec(poolText);
  const [start, end] = [m?.[1], m?.[2]];
  if (!start || !end || parseIpv4(start) === undefined || parseIpv4(end) === undefined || parseIpv4(start)! > parseIpv4(end)!) {
    f.fail('pool', `must be "FIRST-LAST", e.g. 10.0.0.100-10.0.0.200 (got "${poolText}")`, f.raw('pool'));
  }
  for (const a of [start, end]) {
    if (!inNetwork(a, network.address, network.prefix)) f.fail('pool', outside(a), f.raw('pool'));
  }
  return { start, end };
}

/** The single-pool form: one subnet, the network of server.address in subnet_mask. */
function readSingleSubnet(f: Fields, server: ServerConfig, defaults: SubnetDefaults): SubnetConfig {
  const mask = ipv4(f, 'subnet_mask', f.string('subnet_mask', '255.255.255.0'))!;
  const prefix = maskToPrefix(mask);
  if (prefix === undefined) return f.fail('subnet_mask', `"${mask}" is not a netmask`, f.raw('subnet_mask'));
  const network = formatIpv4((parseIpv4(server.address)! & parseIpv4(mask)!) >>> 0);
  const pool = readPool(f, { address: network, prefix }, (a) => `${a} is not in the subnet of server.address ${server.address}/${prefix}`);
  const broadcast = ipv4(f, 'broadcast', f.optString('broadcast'));
  return {
    network, prefix, mask, name: `${network}/${prefix}`,
    attached: true,
    mode: defaults.mode,
    routers: readAddresses(f, 'routers'),
    dns: defaults.dns,
    leaseTimeSec: defaults.leaseTimeSec,
    serverAddress: server.address,
    ...(server.interface !== undefined ? { interface: server.interface } : {}),
    ...(pool ? { pool } : {}),
    ...(defaults.domain !== undefined ? { domain: defaults.domain } : {}),
    ...(broadcast !== undefined ? { broadcast } : {}),
  };
}

/** One entry of dhcp.subnets. */
function readSubnet(f: Fields, server: ServerConfig, defaults: SubnetDefaults): SubnetConfig {
  const text = f.string('network');
  const cidr = parseCidr(text);
  if (cidr === undefined) return f.fail('network', `"${text}" is not a network: use ADDRESS/PREFIX, e.g. 10.2.0.0/24`, f.raw('network'));
  if (cidr.hostBitsSet) f.fail('network', `"${text}" has host bits set: the network is ${cidr.address}/${cidr.prefix}`, f.raw('network'));
  const name = `${cidr.address}/${cidr.prefix}`;
  const inside = (a: string) => inNetwork(a, cidr.address, cidr.prefix);
  const iface = f.optString('interface');
  if (iface !== undefined && !/^[A-Za-z0-9_.:-]{1,15}$/.test(iface)) f.fail('interface', `"${iface}" is not a network interface name`, f.raw('interface'));
  const pool = readPool(f, cidr, (a) => `${a} is not in ${name}`);
  const routers = readAddresses(f, 'routers');
  // A node reaches its gateway on its own link, or not at all.
  for (const r of routers) if (!inside(r)) f.fail('routers', `${r} is not in ${name}: a node's gateway must be on its own subnet`, f.raw('routers'));
  const dns = f.has('dns') ? readAddresses(f, 'dns') : defaults.dns;
  const domain = f.has('domain') ? readDomain(f) : defaults.domain;
  const broadcast = ipv4(f, 'broadcast', f.optString('broadcast'));
  if (broadcast !== undefined && !inside(broadcast)) f.fail('broadcast', `${broadcast} is not in ${name}`, f.raw('broadcast'));
  const serverAddress = ipv4(f, 'server_address', f.optString('server_address')) ?? server.address;
  const s: SubnetConfig = {
    network: cidr.address, prefix: cidr.prefix, mask: prefixToMask(cidr.prefix), name,
    attached: iface !== undefined,
    mode: f.oneOf('mode', ['full', 'proxy'] as const, defaults.mode),
    routers,
    dns,
    leaseTimeSec: readLeaseTime(f, defaults.leaseTimeSec),
    serverAddress,
    ...(iface !== undefined ? { interface: iface } : {}),
    ...(pool ? { pool } : {}),
    ...(domain !== undefined ? { domain } : {}),
    ...(broadcast !== undefined ? { broadcast } : {}),
  };
  f.rejectUnknown();
  return s;
}

/** Subnets may not overlap (an address would belong to two), nor share an interface. */
function checkSubnetsApart(items: Fields[], subnets: SubnetConfig[]): void {
  subnets.forEach((s, i) => {
    const f = items[i]!;
    for (const [j, o] of subnets.slice(0, i).entries()) {
      const shorter = s.prefix < o.prefix ? s : o;
      const longer = shorter === s ? o : s;
      if (inNetwork(longer.network, shorter.network, shorter.prefix)) {
        f.fail('network', `${s.name} overlaps dhcp.subnets[${j}] ${o.name}`, f.raw('network'));
      }
      if (s.interface !== undefined && s.interface === o.interface) {
        f.fail('interface', `${s.interface} is already the interface of dhcp.subnets[${j}] ${o.name} (one subnet per interface: serve the others through relays)`, f.raw('interface'));
      }
    }
  });
}

/**
 * The API's access: reads by network, writes by the admin token in admin_token_file. Without
 * read_from, loopback and the boot networks (every DHCP subnet; in the single-pool form
 * server.address in dhcp.subnet_mask) may read: the admin's own machine and the nodes' LANs.
 */
function readApi(f: Fields, server: ServerConfig, dhcp: DhcpConfig, path: (p: string) => string): ApiConfig {
  const adminTokenFile = path(f.string('admin_token_file', `${server.stateDir}/admin-token`));
  const address = f.string('address', '127.0.0.1');
  if (!isIPv4(address) && !isIPv6(address)) f.fail('address', `"${address}" is not an IP address (the admin listener; 127.0.0.1 keeps it on this host)`, f.raw('address'));
  const port = f.int('port', 8780, 1, 65535);
  const hostnames = f.strings('hostnames');
  for (const h of hostnames) if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(h)) f.fail('hostnames', `"${h}" is not a host name`, f.raw('hostnames'));
  let readFrom: string[];
  if (f.has('read_from') && !f.isNull('read_from')) {
    readFrom = f.strings('read_from');
    for (const cidr of readFrom) {
      const problem = cidrProblem(cidr);
      if (problem) f.fail('read_from', problem, f.raw('read_from'));
    }
  } else {
    readFrom = ['127.0.0.0/8', '::1/128', ...dhcp.subnets.map((s) => s.name)];
  }
  const maxEventStreams = f.int('max_event_streams', DEFAULT_MAX_EVENT_STREAMS, 1, 4096);
  f.rejectUnknown();
  return { adminTokenFile, readFrom, address, port, hostnames, maxEventStreams };
}

/** server.address's own subnet (dhcp.subnet_mask) as NETWORK/PREFIX: the nodes' LAN. */
/**
 * server.nfs_clients: IPv4 networks and addresses that may mount the NFS roots, or
 * `inventory`; empty here means "not set" (the boot subnets, filled in once dhcp is read).
 * ganesha reads them as words of its CLIENT block, so only addresses and prefixes pass.
 */
function readNfsClients(f: Fields): string[] | 'inventory' {
  const list = f.strings('nfs_clients');
  if (list.length === 1 && list[0] === 'inventory') return 'inventory';
  for (const c of list) {
    const [addr = '', prefix, extra] = c.split('/');
    if (parseIpv4(addr) === undefined || extra !== undefined || (prefix !== undefined && !(/^\d{1,2}$/.test(prefix) && Number(prefix) <= 32))) {
      f.fail('nfs_clients', `"${c}" is not an IPv4 network or address (use e.g. 10.0.0.0/24, 10.0.0.11, or the word inventory)`, f.raw('nfs_clients'));
    }
  }
  return list;
}

/** With nfs_clients: inventory, a node on a root this server exports over NFS needs a reserved address to be let in. */
function checkNfsClients(f: Fields, server: ServerConfig, profiles: Map<string, ProfileConfig>, nodes: NodeConfig[]): void {
  if (server.nfsClients !== 'inventory') return;
  nodes.forEach((n, i) => {
    const root = profiles.get(n.profile)?.root;
    if (root?.mode === 'nfs' && root.nfsServer === undefined && n.address === undefined) {
      f.fail('nfs_clients', `is inventory, but nodes[${i}] (${n.mac ?? n.hostname}) boots an NFS root of this server without an address: give it one, or list its network in nfs_clients`, f.raw('nfs_clients'));
    }
  });
}

/** Why a read_from entry is not ADDRESS/PREFIX (or a bare address), or undefined if it is. */
function cidrProblem(cidr: string): string | undefined {
  const [addr = '', prefixText, extra] = cidr.trim().split('/');
  const max = isIPv4(addr) ? 32 : isIPv6(addr) ? 128 : undefined;
  if (max === undefined || extra !== undefined) return `"${cidr}" is not a network: use ADDRESS/PREFIX, e.g. 10.77.0.0/24 or ::1/128`;
  if (prefixText !== undefined && (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max)) return `"${cidr}": the prefix must be 0 to ${max}`;
  return undefined;
}

/**
 * What each unknown_clients choice needs to do anything. Only a value written in the file is
 * checked: the implicit `allow` of older configs without default_profile keeps working.
 */
function checkUnknownClients(f: Fields, dhcp: DhcpConfig, defaultProfile: string | undefined): void {
  if (!f.has('unknown_clients')) return;
  const choice = dhcp.unknownClients;
  const node = f.raw('unknown_clients');
  if (choice === 'allow' && defaultProfile === undefined) {
    f.fail('unknown_clients', 'allow boots default_profile, which is not set (set default_profile, or use register or deny)', node);
  }
  const full = dhcp.subnets.filter((s) => s.mode === 'full');
  if ((choice === 'allow' || choice === 'register') && full.length > 0 && full.every((s) => s.pool === undefined)) {
    f.fail('unknown_clients', `${choice} needs dhcp.pool in full mode: unknown machines get their address from it`, node);
  }
}

/**
 * Profiles may inherit another's settings (`inherits: NAME`): a key set in the child replaces
 * the parent's whole value (cmdline, initrd list, root block); parents are read first.
 */
function readProfiles(entries: Array<[string, Fields]>, path: (p: string) => string, out: Map<string, ProfileConfig>): void {
  const byName = new Map(entries);
  const reading: string[] = [];
  const read = (name: string, f: Fields): ProfileConfig => {
    const done = out.get(name);
    if (done) return done;
    if (reading.includes(name)) f.fail('inherits', `profiles inherit in a cycle: ${[...reading.slice(reading.indexOf(name)), name].join(' → ')}`, f.raw('inherits'));
    reading.push(name);
    const parentName = f.optString('inherits');
    let parent: ProfileConfig | undefined;
    if (parentName !== undefined) {
      const pf = byName.get(parentName);
      if (!pf) f.fail('inherits', `names no profile "${parentName}" (known: ${[...byName.keys()].join(', ')})`, f.raw('inherits'));
      parent = read(parentName, pf!);
    }
    const p = readProfile(name, f, path, parent);
    reading.pop();
    out.set(name, p);
    return p;
  };
  for (const [name, f] of entries) read(name, f);
  // Keep the file's order, not the order parents were resolved in.
  const ordered = entries.map(([name]) => out.get(name)!);
  out.clear();
  for (const p of ordered) out.set(p.name, p);
}

function readProfile(name: string, f: Fields, path: (p: string) => string, parent?: ProfileConfig): ProfileConfig {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) f.fail('', `profile name ${JSON.stringify(name)} may use letters, digits, ".", "_" and "-" only`);
  const cmdline = f.has('cmdline') ? readCmdline(f) ?? '' : parent?.cmdline ?? '';
  const image = f.has('image') ? f.optString('image') : parent?.image;
  if (image !== undefined && !/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/.test(image)) f.fail('image', `${JSON.stringify(image)} is not an image name (letters, digits, ".", "_", "-")`, f.raw('image'));
  const kernel = f.optString('kernel');
  if (kernel === undefined && !parent && image === undefined) f.fail('kernel', 'is required (or use image: NAME, or inherit it with inherits: NAME)');
  const p: ProfileConfig = {
    name,
    ...(image !== undefined ? { image } : {}),
    kernel: kernel === undefined ? parent?.kernel ?? '' : path(kernel),
    initrds: f.has('initrd') ? f.strings('initrd').map(path) : [...(parent?.initrds ?? [])],
    cmdline,
    loader: f.has('loader') ? f.oneOf('loader', LOADERS, 'ipxe') : parent?.loader ?? 'ipxe',
    secureBoot: f.has('secure_boot') ? f.bool('secure_boot', false) : parent?.secureBoot ?? false,
    files: mergeFileSpecs(parent?.files ?? [], readFileSpecs(f, path)),
  };
  if (f.has('power') || parent?.power) {
    const own = f.has('power') ? readPowerSettings(f.map('power'), path) : {};
    p.power = { ...parent?.power, ...own };
  }
  // A stored image's kernel is checked when a node is given it (the boot tree): the store, not
  // the config, knows which version is published.
  if (p.secureBoot && p.image === undefined && p.kernel !== '') {
    const sig = kernelFileSignature(p.kernel);
    if (!sig.signed) {
      const key = f.has('kernel') ? 'kernel' : 'secure_boot';
      f.fail(key, `${p.kernel} cannot boot with Secure Boot: ${sig.why}. Use a signed kernel (Debian's linux-image-* are signed) or one signed with the site's own key, or set secure_boot: false`, f.raw(key));
    }
  }
  if (p.image === undefined && p.kernel !== '') {
    const arch = kernelFileArch(p.kernel);
    if (arch.ok) p.kernelArch = arch.arch;
    // pxelinux runs on BIOS machines only, which are x86: such a profile can boot no arm64 kernel.
    if (arch.ok && arch.arch === 'arm64' && p.loader === 'pxelinux') {
      const key = f.has('loader') ? 'loader' : 'kernel';
      f.fail(key, `${p.kernel} is an arm64 kernel, but loader pxelinux boots only x86 BIOS machines. Use loader: grub (arm64 UEFI machines get shim → GRUB) or an x86 kernel`, f.raw(key));
    }
  }
  const onFailure = f.has('on_failure') ? f.oneOf('on_failure', ['shell', 'reboot', 'poweroff'] as const, 'shell') : parent?.onFailure;
  if (onFailure !== undefined) p.onFailure = onFailure;
  const failureDelaySec = f.has('failure_delay') ? f.int('failure_delay', DEFAULT_FAILURE_DELAY_SEC, 0, 3600) : parent?.failureDelaySec;
  if (failureDelaySec !== undefined) p.failureDelaySec = failureDelaySec;
  const menu = f.has('menu') ? readMenu(f) : parent?.menu;
  if (menu) p.menu = menu;
  if (f.has('root')) {
    if (!f.isNull('root')) p.root = readRoot(f.map('root'), path, image !== undefined, name);
  } else if (parent?.root) p.root = { ...parent.root };
  else if (image !== undefined) p.root = { mode: 'live', copy: false, overlay: 'tmpfs', retry: 180 };
  if (f.has('disk')) {
    if (!f.isNull('disk')) p.disk = readDisk(f.map('disk'));
  } else if (parent?.disk) p.disk = { ...parent.disk, match: { ...parent.disk.match }, persist: [...parent.disk.persist] };
  if (f.has('network')) {
    if (!f.isNull('network')) p.network = readNetwork(f.map('network'));
  } else if (parent?.network) p.network = structuredClone(parent.network);
  if (p.disk && p.root?.overlay === 'none' && p.disk.upper) f.fail('disk', 'upper: true needs an overlay, and root.overlay is none (set upper: false)', f.raw('disk'));
  f.rejectUnknown();
  return p;
}

/** network: a bond of named or matched NICs and/or a VLAN; bond members are MACs or name globs. */
function readNetwork(f: Fields): NetworkConfig {
  const vlan = f.has('vlan') ? f.int('vlan', 1, 1, 4094) : undefined;
  let bond: NetworkConfig['bond'];
  if (f.has('bond') && !f.isNull('bond')) {
    const b = f.map('bond');
    const mode = b.oneOf('mode', ['active-backup', '802.3ad'] as const, 'active-backup');
    const interfaces = b.strings('interfaces').map((i) => normalizeMac(i) ?? i);
    if (interfaces.length < 2) b.fail('interfaces', 'list at least two NICs to bond: MAC addresses, or interface name globs such as eth*', b.raw('interfaces'));
    for (const i of interfaces) {
      if (normalizeMac(i) === undefined && !/^[A-Za-z0-9_.*?-]{1,15}$/.test(i)) b.fail('interfaces', `${JSON.stringify(i)} is neither a MAC address nor an interface name glob (letters, digits, _ . - * ?)`, b.raw('interfaces'));
    }
    b.rejectUnknown();
    bond = { mode, interfaces };
  }
  f.rejectUnknown();
  if (!bond && vlan === undefined) f.fail('bond', 'network: needs a bond, a vlan, or both');
  return { ...(bond ? { bond } : {}), ...(vlan !== undefined ? { vlan } : {}) };
}

const SIZE_UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** "64G", "512M", "2T" (binary units) → bytes; undefined when it is not a size. */
function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(text.trim());
  if (!m) return undefined;
  const bytes = Math.round(Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]!);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

// Paths the node mounts over: absolute, plain characters, no "." or ".." segment, not a
// filesystem the initramfs moves into the root (/proc, /sys, /dev, /run) nor the root itself.
function mountPathProblem(p: string): string | undefined {
  if (!/^(\/[A-Za-z0-9_+@=-][A-Za-z0-9._+@=-]*)+$/.test(p) || p.split('/').some((s) => s === '.' || s === '..')) {
    return `${JSON.stringify(p)} is not an absolute path of letters, digits and . _ + @ = - (no . or .. segments)`;
  }
  if (/^\/(proc|sys|dev|run)(\/|$)/.test(p)) return `${p} is under /proc, /sys, /dev or /run, which the system mounts itself`;
  return undefined;
}

// Globs go onto the kernel command line: no blanks there, so a space in a model is written "?".
const DISK_GLOB = /^[A-Za-z0-9 ._*?:+\[\]-]{1,128}$/;

function readDisk(f: Fields): DiskConfig {
  const m = f.map('match');
  const path = m.optString('path');
  const model = m.optString('model');
  const byId = m.optString('by_id');
  const sizeText = m.optString('size');
  if (path !== undefined && !/^\/dev\/[A-Za-z0-9_-]{1,32}$/.test(path)) m.fail('path', `${JSON.stringify(path)} is not a whole disk's /dev/NAME (e.g. /dev/sda, /dev/nvme0n1); use by_id for a stable name`, m.raw('path'));
  if (model !== undefined && !DISK_GLOB.test(model)) m.fail('model', `${JSON.stringify(model)}: a model glob of letters, digits, spaces and . _ * ? : + - [ ]`, m.raw('model'));
  if (byId !== undefined && !DISK_GLOB.test(byId)) m.fail('by_id', `${JSON.stringify(byId)}: a by-id glob of letters, digits and . _ * ? : + - [ ]`, m.raw('by_id'));
  let minBytes: number | undefined;
  let maxBytes: number | undefined;
  if (sizeText !== undefined) {
    const [lo = '', hi, extra] = sizeText.split('-');
    minBytes = lo.trim() === '' ? undefined : parseSize(lo);
    maxBytes = hi === undefined ? minBytes : hi.trim() === '' ? undefined : parseSize(hi);
    if (extra !== undefined || (lo.trim() !== '' && minBytes === undefined) || (hi !== undefined && hi.trim() !== '' && maxBytes === undefined) || (minBytes === undefined && maxBytes === undefined) || (minBytes !== undefined && maxBytes !== undefined && minBytes > maxBytes)) {
      m.fail('size', `${JSON.stringify(sizeText)}: expected MIN-MAX with K, M, G or T (e.g. 100G-2T, 100G- or -2T)`, m.raw('size'));
    }
  }
  m.rejectUnknown();
  if (path === undefined && model === undefined && byId === undefined && sizeText === undefined) f.fail('match', 'name the disk by path, model, by_id or size (every one given must match)');
  const swapText = f.optString('swap');
  const swapBytes = swapText === undefined ? 0 : parseSize(swapText);
  if (swapBytes === undefined || swapBytes % 2 ** 20 !== 0) f.fail('swap', `${JSON.stringify(swapText)}: a size in whole MiB, e.g. 4G or 512M`, f.raw('swap'));
  const scratch = f.optString('scratch');
  const scratchProblem = scratch === undefined ? undefined : mountPathProblem(scratch);
  if (scratchProblem) f.fail('scratch', scratchProblem, f.raw('scratch'));
  const persist = f.strings('persist');
  for (const p of persist) {
    const problem = mountPathProblem(p);
    if (problem) f.fail('persist', problem, f.raw('persist'));
  }
  const d: DiskConfig = {
    match: {
      ...(path !== undefined ? { path } : {}),
      ...(model !== undefined ? { model } : {}),
      ...(byId !== undefined ? { byId } : {}),
      ...(minBytes !== undefined ? { minBytes } : {}),
      ...(maxBytes !== undefined ? { maxBytes } : {}),
    },
    upper: f.bool('upper', true),
    swapMiB: swapBytes! / 2 ** 20,
    ...(scratch !== undefined ? { scratch } : {}),
    persist,
  };
  f.rejectUnknown();
  return d;
}

function readRoot(f: Fields, path: (p: string) => string, fromStore: boolean, profile: string): RootConfig {
  const mode = f.oneOf('mode', ['live', 'nbd', 'nfs'] as const, 'live');
  const image = f.optString('image');
  const dir = f.optString('dir');
  const nfsServer = ipv4(f, 'server', f.optString('server'));
  const nfsPath = f.optString('path');
  const nfsVersion = f.has('version') ? f.int('version', 4, 3, 4) as 3 | 4 : undefined;
  if (fromStore && image !== undefined) f.fail('image', 'the profile takes its root from image: NAME already; remove root.image', f.raw('image'));
  if ((mode === 'live' || mode === 'nbd') && image === undefined && !fromStore) f.fail('image', `is required for mode ${mode} (a squashfs file)`);
  for (const key of ['server', 'path', 'version'] as const) {
    if (mode !== 'nfs' && f.has(key)) f.fail(key, 'only applies to mode nfs', f.raw(key));
  }
  if (mode === 'nfs') {
    if ((nfsServer === undefined) !== (nfsPath === undefined)) {
      f.fail(nfsServer === undefined ? 'server' : 'path', 'an existing NFS server is named by server (its IPv4 address) and path (its export) together', f.raw(nfsServer === undefined ? 'path' : 'server'));
    }
    if (nfsServer !== undefined && dir !== undefined) f.fail('dir', 'a root on another NFS server (server, path) exports nothing from here: remove dir', f.raw('dir'));
    if (nfsServer === undefined && dir === undefined && !fromStore) {
      f.fail('dir', 'is required for mode nfs (the image tree to export), unless the profile has image: NAME (its published version is exported) or the root is on another NFS server (server, path)');
    }
    if (fromStore && dir !== undefined) f.fail('dir', 'the profile exports its image\'s published version (image: NAME); remove root.dir', f.raw('dir'));
    // The path goes into root=nfs:SERVER:PATH:OPTIONS, where ":" ends it and "," would start a mount option.
    if (nfsPath !== undefined && !/^\/[A-Za-z0-9._+@=\/-]*$/.test(nfsPath)) {
      f.fail('path', `${JSON.stringify(nfsPath)} is not an absolute export path of letters, digits and . _ + @ = - /`, f.raw('path'));
    }
    // A profile named "images" exporting a dir would sit where stored versions are exported.
    if (dir !== undefined && profile === 'images') f.fail('dir', 'a profile named "images" cannot export a dir over NFS: /images is where stored image versions are exported; rename the profile');
  }
  const copy = f.bool('copy', false);
  if (copy && mode !== 'live') f.fail('copy', 'only applies to mode live');
  const r: RootConfig = {
    mode,
    copy,
    overlay: f.oneOf('overlay', ['tmpfs', 'none'] as const, 'tmpfs'),
    retry: f.int('retry', 180, 0, 86400),
    ...(image !== undefined ? { image: path(image) } : {}),
    ...(dir !== undefined ? { dir: path(dir) } : {}),
    ...(nfsVersion !== undefined ? { nfsVersion } : {}),
    ...(nfsServer !== undefined ? { nfsServer } : {}),
    ...(nfsPath !== undefined ? { nfsPath } : {}),
  };
  f.rejectUnknown();
  return r;
}

/**
 * Kernel arguments are written into iPXE scripts and pxelinux (later GRUB) configs: only
 * characters that none of them reads as syntax (src/boot/kernel-args.ts).
 */
function readCmdline(f: Fields): string | undefined {
  const cmdline = f.optString('cmdline');
  const problem = cmdline === undefined ? undefined : kernelArgsProblem(cmdline);
  if (problem) f.fail('cmdline', problem, f.raw('cmdline'));
  return cmdline;
}

function readNode(f: Fields, profiles: Map<string, ProfileConfig>, path: (p: string) => string): NodeConfig {
  const macText = f.optString('mac');
  const mac = macText === undefined ? undefined : normalizeMac(macText);
  if (macText !== undefined && !mac) f.fail('mac', `${JSON.stringify(macText)} is not a MAC address (use 52:54:00:12:34:56)`, f.raw('mac'));
  const switchPort = f.has('switch_port') && !f.isNull('switch_port') ? readSwitchPort(f.map('switch_port')) : undefined;
  if (mac === undefined && switchPort === undefined) f.fail('mac', 'is required (or switch_port: the node is then whichever machine its relay reports on that port)');
  const hostname = f.optString('hostname');
  if (hostname !== undefined && !HOSTNAME.test(hostname)) f.fail('hostname', `${JSON.stringify(hostname)} is not a valid host name (letters, digits, "-", dots between labels)`, f.raw('hostname'));
  // A node without a MAC is known by its host name: its secrets and SSH host keys are kept under it.
  if (mac === undefined && hostname === undefined) f.fail('hostname', 'is required for a node without a mac: it names the node and its identity (secrets, SSH host keys)');
  const address = ipv4(f, 'address', f.optString('address'));
  const profile = f.string('profile', profiles.has('default') ? 'default' : '');
  if (!profiles.has(profile)) f.fail('profile', profile ? `names no profile ${JSON.stringify(profile)} (known: ${[...profiles.keys()].join(', ') || 'none'})` : 'is required (no profile named "default" exists)', f.raw('profile'));
  const cmdline = readCmdline(f);
  const loader = f.has('loader') ? f.oneOf('loader', LOADERS, 'ipxe') : undefined;
  const kernelArch = profiles.get(profile)?.kernelArch;
  if (loader === 'pxelinux' && kernelArch === 'arm64') {
    f.fail('loader', `pxelinux boots only x86 BIOS machines, and profile ${profile}'s kernel ${profiles.get(profile)!.kernel} is arm64. Use loader: grub (arm64 UEFI machines get shim → GRUB) or a profile with an x86 kernel`, f.raw('loader'));
  }
  const files = readFileSpecs(f, path);
  const network = f.has('network') && !f.isNull('network') ? readNetwork(f.map('network')) : undefined;
  const power = resolvePower(f.has('power') ? readPowerSettings(f.map('power'), path) : undefined, profiles.get(profile)?.power, (key, problem) => f.fail(key, problem, f.raw('power')), profile);
  const menu = readMenu(f);
  f.rejectUnknown();
  return {
    ...(network ? { network } : {}),
    ...(menu ? { menu } : {}),
    ...(mac !== undefined ? { mac } : {}),
    ...(switchPort !== undefined ? { switchPort } : {}),
    profile,
    ...(hostname !== undefined ? { hostname } : {}),
    ...(address !== undefined ? { address } : {}),
    ...(cmdline !== undefined ? { cmdline } : {}),
    ...(loader !== undefined ? { loader } : {}),
    ...(files.length ? { files } : {}),
    ...(power !== undefined ? { power } : {}),
  };
}

/** `switch_port: { circuit_id, remote_id }`, as the relay sends them (text, or 0x and hex). */
function readSwitchPort(f: Fields): SwitchPort {
  const id = (key: string): string | undefined => {
    const text = f.optString(key);
    if (text === undefined) return undefined;
    const canonical = canonicalAgentId(text);
    if (canonical === undefined) f.fail(key, `${JSON.stringify(text)} is not a relay agent id: printable text, or 0x and hex bytes (at most 255)`, f.raw(key));
    return canonical;
  };
  const circuitId = id('circuit_id');
  const remoteId = id('remote_id');
  // A misspelt key first: "circuit: x" is better told as a typo than as a missing circuit_id.
  f.rejectUnknown();
  if (circuitId === undefined) f.fail('circuit_id', 'is required: the port as the relay names it (ISC dhcrelay -a: the interface name)');
  return { circuitId, ...(remoteId !== undefined ? { remoteId } : {}) };
}

/** Menus name profiles, which are all known only now. */
function checkMenus(file: string, profiles: ReadonlyMap<string, ProfileConfig>, nodes: readonly NodeConfig[]): void {
  for (const p of profiles.values()) {
    const problem = p.menu && menuTargetProblem(p.menu, p, profiles);
    if (problem) throw new ConfigError(file, undefined, `profiles.${p.name}.menu`, problem);
  }
  for (const n of nodes) {
    const problem = n.menu && menuTargetProblem(n.menu, profiles.get(n.profile)!, profiles);
    if (problem) throw new ConfigError(file, undefined, `nodes[${n.mac ?? n.hostname}].menu`, problem);
  }
}

function checkUnique(top: Fields, nodes: NodeConfig[]): void {
  const macs = new Map<string, number>();
  const addrs = new Map<string, string>();
  const ports = new Map<string, number>();
  const names = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (n.mac !== undefined) {
      const prev = macs.get(n.mac);
      if (prev !== undefined) top.fail(`nodes[${i}].mac`, `${n.mac} is listed twice (also nodes[${prev}])`);
      macs.set(n.mac, i);
    }
    if (n.address) {
      const other = addrs.get(n.address);
      if (other) top.fail(`nodes[${i}].address`, `${n.address} is already reserved for ${other}`);
      addrs.set(n.address, n.mac ?? n.hostname ?? `nodes[${i}]`);
    }
    if (n.switchPort) {
      const key = switchPortText(n.switchPort);
      const prev = ports.get(key);
      if (prev !== undefined) top.fail(`nodes[${i}].switch_port`, `${key} is already nodes[${prev}]'s: one node per port`);
      ports.set(key, i);
    }
    // A node without a MAC is known by its host name, so that name may not be another node's.
    if (n.hostname !== undefined) {
      const prev = names.get(n.hostname);
      const keyed = n.mac === undefined || (prev !== undefined && nodes[prev]?.mac === undefined);
      if (prev !== undefined && keyed) top.fail(`nodes[${i}].hostname`, `${n.hostname} is already nodes[${prev}]'s, and a node without a mac is known by its host name`);
      names.set(n.hostname, i);
    }
  });
}
