import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap } from 'yaml';
import { isIPv4, isIPv6 } from 'node:net';
import { formatIpv4, parseIpv4, sameSubnet, maskToPrefix } from '../net/ipv4.js';
import { normalizeMac } from '../net/mac.js';
import type { ApiConfig, DhcpConfig, DiskConfig, DisklessConfig, NetworkConfig, NodeConfig, ProfileConfig, RootConfig, ServerConfig } from './types.js';
import { ConfigError, Fields } from './yaml-fields.js';
import { mergeFileSpecs, readFileSpecs } from './node-files.js';
import { DEFAULT_MAX_EVENT_STREAMS, DEFAULT_MAX_HTTP_CONNECTIONS, DEFAULT_MAX_HTTP_CONNECTIONS_PER_PEER } from './defaults.js';
import { kernelArgsProblem } from './kernel-args.js';
import { readPowerSettings, resolvePower } from './power.js';

const LOADERS = ['ipxe', 'pxelinux'] as const;
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
  if (server.nfsClients !== 'inventory' && server.nfsClients.length === 0) server.nfsClients = [bootSubnet(server, dhcp)];
  const api = readApi(top.map('api'), server, dhcp, path);
  const profiles = new Map<string, ProfileConfig>();
  readProfiles(top.entries('profiles'), path, profiles);
  const nodes = top.list('nodes').map((f) => readNode(f, profiles, path));
  const defaultProfile = top.optString('default_profile');
  if (defaultProfile !== undefined && !profiles.has(defaultProfile)) {
    top.fail('default_profile', `names no profile (known: ${[...profiles.keys()].join(', ') || 'none'})`, top.raw('default_profile'));
  }
  top.rejectUnknown();
  checkUnknownClients(dhcpFields, dhcp, defaultProfile);
  checkUnique(top, nodes);
  checkNfsClients(serverFields, server, profiles, nodes);
  for (const n of nodes) {
    if (n.address && dhcp.mode === 'full' && !sameSubnet(n.address, server.address, dhcp.subnetMask)) {
      throw new ConfigError(file, undefined, `nodes[${n.mac}].address`, `${n.address} is not in the subnet of server.address ${server.address}/${maskToPrefix(dhcp.subnetMask)}`);
    }
  }
  return { file, server, dhcp, api, profiles, nodes, ...(defaultProfile !== undefined ? { defaultProfile } : {}) };
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
    tokenTtlSec: f.int('token_ttl', 300, 10, 3600),
    secretsWindowSec: f.int('secrets_window', 900, 60, 86400),
    httpsPort: f.int('https_port', 443, 1, 65535),
    answerRouterSolicitations: f.bool('answer_router_solicitations', false),
    nfsClients: readNfsClients(f),
    stateDir,
    tlsCertFile: path(f.string('tls_cert', `${stateDir}/tls/server.crt`)),
    tlsKeyFile: path(f.string('tls_key', `${stateDir}/tls/server.key`)),
    ipxeDir: path(f.string('ipxe_dir', '/usr/lib/ipxe')),
    syslinuxDirs: (syslinux.length ? syslinux : ['/usr/lib/PXELINUX', '/usr/lib/syslinux/modules/bios']).map(path),
    ...(iface !== undefined ? { interface: iface } : {}),
    ...(tftpRoot !== undefined ? { tftpRoot: path(tftpRoot) } : {}),
  };
  if (iface !== undefined && !/^[A-Za-z0-9_.:-]{1,15}$/.test(iface)) f.fail('interface', `"${iface}" is not a network interface name`, f.raw('interface'));
  if (f.has('tls_cert') !== f.has('tls_key')) f.fail(f.has('tls_cert') ? 'tls_cert' : 'tls_key', 'give tls_cert and tls_key together (or neither: a certificate is then made at first start)', f.raw(f.has('tls_cert') ? 'tls_cert' : 'tls_key'));
  if (s.httpsPort === s.httpPort) f.fail('https_port', `must differ from http_port (${s.httpPort})`, f.raw('https_port'));
  if (s.answerRouterSolicitations && iface === undefined) f.fail('answer_router_solicitations', 'needs server.interface: the link to answer on', f.raw('answer_router_solicitations'));
  f.rejectUnknown();
  return s;
}

function readDhcp(f: Fields, server: ServerConfig): DhcpConfig {
  const mode = f.oneOf('mode', ['full', 'proxy', 'off'] as const, 'proxy');
  const subnetMask = ipv4(f, 'subnet_mask', f.string('subnet_mask', '255.255.255.0'))!;
  if (maskToPrefix(subnetMask) === undefined) f.fail('subnet_mask', `"${subnetMask}" is not a netmask`, f.raw('subnet_mask'));
  const poolText = f.optString('pool');
  let pool: DhcpConfig['pool'];
  if (poolText !== undefined) {
    const m = /^\s*([\d.]+)\s*-\s*([\d.]+)\s*$/.exec(poolText);
    const [start, end] = [m?.[1], m?.[2]];
    if (!start || !end || parseIpv4(start) === undefined || parseIpv4(end) === undefined || parseIpv4(start)! > parseIpv4(end)!) {
      f.fail('pool', `must be "FIRST-LAST", e.g. 10.0.0.100-10.0.0.200 (got "${poolText}")`, f.raw('pool'));
    }
    for (const a of [start, end]) {
      if (!sameSubnet(a, server.address, subnetMask)) f.fail('pool', `${a} is not in the subnet of server.address ${server.address}/${maskToPrefix(subnetMask)}`, f.raw('pool'));
    }
    pool = { start, end };
  }
  const routers = f.strings('routers');
  const dns = f.strings('dns');
  routers.forEach((r) => ipv4(f, 'routers', r));
  dns.forEach((r) => ipv4(f, 'dns', r));
  const domain = f.optString('domain');
  // Handed to every node (DHCP option 15), which writes it into /etc/hosts and resolv.conf.
  if (domain !== undefined && !HOSTNAME.test(domain)) f.fail('domain', `${JSON.stringify(domain)} is not a domain name (letters, digits, "-", dots between labels)`, f.raw('domain'));
  const broadcast = ipv4(f, 'broadcast', f.optString('broadcast'));
  const rootPath = f.optString('root_path');
  const d: DhcpConfig = {
    mode,
    subnetMask,
    routers,
    dns,
    leaseTimeSec: f.int('lease_time', 3600, 60, 365 * 86400),
    unknownClients: f.oneOf('unknown_clients', ['allow', 'deny', 'register'] as const, 'allow'),
    ...(pool ? { pool } : {}),
    ...(domain !== undefined ? { domain } : {}),
    ...(broadcast !== undefined ? { broadcast } : {}),
    ...(rootPath !== undefined ? { rootPath } : {}),
  };
  f.rejectUnknown();
  return d;
}

/**
 * The API's access: reads by network, writes by the admin token in admin_token_file. Without
 * read_from, loopback and the boot network (server.address in dhcp.subnet_mask) may read:
 * the admin's own machine and the nodes' LAN, nothing routed from elsewhere.
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
    readFrom = ['127.0.0.0/8', '::1/128', bootSubnet(server, dhcp)];
  }
  const maxEventStreams = f.int('max_event_streams', DEFAULT_MAX_EVENT_STREAMS, 1, 4096);
  f.rejectUnknown();
  return { adminTokenFile, readFrom, address, port, hostnames, maxEventStreams };
}

/** server.address's own subnet (dhcp.subnet_mask) as NETWORK/PREFIX: the nodes' LAN. */
function bootSubnet(server: ServerConfig, dhcp: DhcpConfig): string {
  const prefix = maskToPrefix(dhcp.subnetMask) ?? 32;
  return `${formatIpv4((parseIpv4(server.address)! & parseIpv4(dhcp.subnetMask)!) >>> 0)}/${prefix}`;
}

/**
 * server.nfs_clients: IPv4 networks and addresses that may mount the NFS roots, or
 * `inventory`; empty here means "not set" (the boot subnet, filled in once dhcp is read).
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
      f.fail('nfs_clients', `is inventory, but nodes[${i}] (${n.mac}) boots an NFS root of this server without an address: give it one, or list its network in nfs_clients`, f.raw('nfs_clients'));
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
  if ((choice === 'allow' || choice === 'register') && dhcp.mode === 'full' && dhcp.pool === undefined) {
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
    files: mergeFileSpecs(parent?.files ?? [], readFileSpecs(f, path)),
  };
  if (f.has('power') || parent?.power) {
    const own = f.has('power') ? readPowerSettings(f.map('power'), path) : {};
    p.power = { ...parent?.power, ...own };
  }
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
  const macText = f.string('mac');
  const mac = normalizeMac(macText);
  if (!mac) f.fail('mac', `${JSON.stringify(macText)} is not a MAC address (use 52:54:00:12:34:56)`, f.raw('mac'));
  const hostname = f.optString('hostname');
  if (hostname !== undefined && !HOSTNAME.test(hostname)) f.fail('hostname', `${JSON.stringify(hostname)} is not a valid host name (letters, digits, "-", dots between labels)`, f.raw('hostname'));
  const address = ipv4(f, 'address', f.optString('address'));
  const profile = f.string('profile', profiles.has('default') ? 'default' : '');
  if (!profiles.has(profile)) f.fail('profile', profile ? `names no profile ${JSON.stringify(profile)} (known: ${[...profiles.keys()].join(', ') || 'none'})` : 'is required (no profile named "default" exists)', f.raw('profile'));
  const cmdline = readCmdline(f);
  const loader = f.has('loader') ? f.oneOf('loader', LOADERS, 'ipxe') : undefined;
  const files = readFileSpecs(f, path);
  const network = f.has('network') && !f.isNull('network') ? readNetwork(f.map('network')) : undefined;
  const power = resolvePower(f.has('power') ? readPowerSettings(f.map('power'), path) : undefined, profiles.get(profile)?.power, (key, problem) => f.fail(key, problem, f.raw('power')), profile);
  f.rejectUnknown();
  return {
    ...(network ? { network } : {}),
    mac: mac!,
    profile,
    ...(hostname !== undefined ? { hostname } : {}),
    ...(address !== undefined ? { address } : {}),
    ...(cmdline !== undefined ? { cmdline } : {}),
    ...(loader !== undefined ? { loader } : {}),
    ...(files.length ? { files } : {}),
    ...(power !== undefined ? { power } : {}),
  };
}

function checkUnique(top: Fields, nodes: NodeConfig[]): void {
  const macs = new Map<string, number>();
  const addrs = new Map<string, string>();
  nodes.forEach((n, i) => {
    const prev = macs.get(n.mac);
    if (prev !== undefined) top.fail(`nodes[${i}].mac`, `${n.mac} is listed twice (also nodes[${prev}])`);
    macs.set(n.mac, i);
    if (n.address) {
      const other = addrs.get(n.address);
      if (other) top.fail(`nodes[${i}].address`, `${n.address} is already reserved for ${other}`);
      addrs.set(n.address, n.mac);
    }
  });
}
