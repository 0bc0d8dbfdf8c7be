import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from './load.js';
import { ConfigError } from './yaml-fields.js';
import { HOSTILE_CMDLINES } from './testdata/hostile-cmdlines.js';

const GOOD = `# a lab
server:
  address: 10.77.0.1
  interface: br0
  http_port: 8080
  state_dir: state
dhcp:
  mode: full
  pool: 10.77.0.100-10.77.0.150
  routers: [10.77.0.1]
  dns: 10.77.0.1
  domain: lab.test
  unknown_clients: deny
profiles:
  default:
    kernel: /boot/vmlinuz
    initrd: [/boot/initrd.img]
    cmdline: console=ttyS0 quiet
  legacy:
    kernel: k
    initrd: i
    loader: pxelinux
    root: { mode: live, image: img/root.sqfs, copy: true }
nodes:
  - mac: 52-54-00-00-00-01
    hostname: dc1
    address: 10.77.0.11
  - mac: 52:54:00:00:00:02
    profile: legacy
    cmdline: rd.debug
default_profile: default
`;

test('a full config parses with defaults and resolved paths', () => {
  const c = parseConfig(GOOD, '/etc/diskless/diskless.yaml');
  assert.equal(c.server.address, '10.77.0.1');
  assert.equal(c.server.httpPort, 8080);
  assert.equal(c.server.tftpPort, 69);
  assert.equal(c.server.maxTftpTransfers, 256);
  assert.equal(c.server.maxTftpTransfersPerPeer, 4);
  assert.equal(c.server.maxNbdConnections, 512);
  assert.equal(c.server.maxHttpConnections, 1024);
  assert.equal(c.server.maxHttpConnectionsPerPeer, 64);
  assert.equal(c.api.maxEventStreams, 64);
  assert.equal(c.server.maxNbdConnectionsPerPeer, 8);
  assert.equal(c.server.stateDir, '/etc/diskless/state');
  assert.equal(c.dhcp.subnets.length, 1, 'the single-pool form is one subnet');
  assert.deepEqual(c.dhcp.subnets[0]?.pool, { start: '10.77.0.100', end: '10.77.0.150' });
  assert.deepEqual(c.dhcp.subnets[0]?.dns, ['10.77.0.1']);
  assert.equal(c.dhcp.unknownClients, 'deny');
  assert.equal(c.dhcp.subnets[0]?.leaseTimeSec, 3600);
  assert.equal(c.dhcp.subnets[0]?.name, '10.77.0.0/24');
  assert.equal(c.dhcp.subnets[0]?.interface, 'br0');
  assert.equal(c.dhcp.subnets[0]?.serverAddress, '10.77.0.1');
  assert.equal(c.profiles.get('legacy')?.kernel, '/etc/diskless/k');
  assert.equal(c.profiles.get('legacy')?.loader, 'pxelinux');
  assert.deepEqual(c.nodes[0], { mac: '52:54:00:00:00:01', profile: 'default', hostname: 'dc1', address: '10.77.0.11' });
  assert.equal(c.nodes[1]?.profile, 'legacy');
  assert.equal(c.defaultProfile, 'default');
  assert.deepEqual(c.profiles.get('legacy')?.root, { mode: 'live', image: '/etc/diskless/img/root.sqfs', copy: true, overlay: 'tmpfs', retry: 180 });
  assert.equal(c.profiles.get('default')?.root, undefined);
});

function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, '/x/d.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail('expected a ConfigError');
}

const cases: Array<[string, string, RegExp]> = [
  ['missing server address', 'server: {}\n', /^\/x\/d\.yaml:1: server\.address: is required/],
  ['bad mode names key and line', GOOD.replace('mode: full', 'mode: fll'), /^\/x\/d\.yaml:8: dhcp\.mode: must be one of full, proxy, off \(got "fll"\)/],
  ['typo in a key', GOOD.replace('http_port', 'htp_port'), /:5: server\.htp_port: unknown setting/],
  ['pool outside the subnet', GOOD.replace('10.77.0.150', '10.78.0.150'), /:9: dhcp\.pool: 10\.78\.0\.150 is not in the subnet/],
  ['bad MAC', GOOD.replace('52-54-00-00-00-01', '52-54-00-00-01'), /:25: nodes\[0\]\.mac: "52-54-00-00-01" is not a MAC address/],
  ['unknown profile', GOOD.replace('profile: legacy', 'profile: nope'), /:29: nodes\[1\]\.profile: names no profile "nope"/],
  ['duplicate MAC', GOOD.replace('52:54:00:00:00:02', '52:54:00:00:00:01'), /nodes\[1\]\.mac: 52:54:00:00:00:01 is listed twice/],
  ['hostile hostname', GOOD.replace('hostname: dc1', 'hostname: "a;reboot"'), /:26: nodes\[0\]\.hostname: "a;reboot" is not a valid host name/],
  ['newline in cmdline', GOOD.replace('cmdline: rd.debug', 'cmdline: "rd.debug\\nshell"'), /:30: nodes\[1\]\.cmdline: must be one line/],
  ['port out of range', GOOD.replace('8080', '80800'), /:5: server\.http_port: must be between 1 and 65535/],
  ['no TFTP transfers at all', GOOD.replace('state_dir: state', 'state_dir: state\n  max_tftp_transfers: 0'), /:7: server\.max_tftp_transfers: must be between 1 and 16384 \(got 0\)/],
  ['NBD connection cap not an integer', GOOD.replace('state_dir: state', 'state_dir: state\n  max_nbd_connections: lots'), /:7: server\.max_nbd_connections: must be an integer/],
  ['HTTP connection cap zero', GOOD.replace('state_dir: state', 'state_dir: state\n  max_http_connections: 0'), /:7: server\.max_http_connections: must be between 1 and 65535 \(got 0\)/],
  ['HTTP per-peer cap not an integer', GOOD.replace('state_dir: state', 'state_dir: state\n  max_http_connections_per_peer: many'), /:7: server\.max_http_connections_per_peer: must be an integer/],
  ['event stream cap too large', GOOD.replace('default_profile: default', 'default_profile: default\napi:\n  max_event_streams: 100000'), /:33: api\.max_event_streams: must be between 1 and 4096 \(got 100000\)/],
  ['router solicitations need the interface', GOOD.replace('  interface: br0\n', '').replace('state_dir: state', 'state_dir: state\n  answer_router_solicitations: true'), /:6: server\.answer_router_solicitations: needs server\.interface/],
  ['router solicitations neither auto nor a boolean', GOOD.replace('state_dir: state', 'state_dir: state\n  answer_router_solicitations: sometimes'), /:7: server\.answer_router_solicitations: must be auto, true or false/],
  ['broken YAML', 'server:\n  address: [\n', /^\/x\/d\.yaml:\d+: \(yaml\): /],
  ['not a mapping', '- a\n', /\(top\): must be a mapping/],
  ['default profile missing', GOOD.replace('default_profile: default', 'default_profile: x'), /:31: default_profile: names no profile/],
  ['root mode needs its image', GOOD.replace('mode: live, image: img/root.sqfs, copy: true', 'mode: nbd'), /:23: profiles\.legacy\.root\.image: is required for mode nbd/],
  ['copy is a boolean', GOOD.replace('copy: true', 'copy: yes please'), /:23: profiles\.legacy\.root\.copy: must be true or false/],
  ['copy only for live', GOOD.replace('mode: live, image: img/root.sqfs, copy: true', 'mode: nfs, dir: /srv/x, copy: true'), /profiles\.legacy\.root\.copy: only applies to mode live/],
  ['read_from entry not a network', GOOD.replace('default_profile: default', 'default_profile: default\napi:\n  read_from: [10.77.0.0/24, lab-net]'), /:33: api\.read_from: "lab-net" is not a network/],
  ['read_from prefix too long', GOOD.replace('default_profile: default', 'default_profile: default\napi:\n  read_from: 10.0.0.0/33'), /:33: api\.read_from: "10\.0\.0\.0\/33": the prefix must be 0 to 32/],
  ['typo in the api section', GOOD.replace('default_profile: default', 'default_profile: default\napi:\n  read_form: 10.0.0.0/8'), /:33: api\.read_form: unknown setting/],
  ['admin_token_file not a string', GOOD.replace('default_profile: default', 'default_profile: default\napi:\n  admin_token_file: [a]'), /:33: api\.admin_token_file: must be a string/],
  ['reserved address outside subnet', GOOD.replace('address: 10.77.0.11', 'address: 10.9.0.11'), /nodes\[52:54:00:00:00:01\]\.address: 10\.9\.0\.11 is not in the subnet/],
];
for (const [name, text, re] of cases) {
  test(`config error: ${name}`, () => assert.match(errorOf(text).message, re));
}

test('cmdline with loader syntax is refused at load, naming file, line, key and the character', () => {
  for (const [name, value, names] of HOSTILE_CMDLINES) {
    // JSON strings are YAML double-quoted scalars: every control character survives into the value.
    const quoted = JSON.stringify(value);
    const profile = errorOf(GOOD.replace('cmdline: console=ttyS0 quiet', `cmdline: ${quoted}`)).message;
    assert.ok(profile.startsWith('/x/d.yaml:18: profiles.default.cmdline: ') && profile.includes(names), `${name}: ${profile}`);
    const node = errorOf(GOOD.replace('cmdline: rd.debug', `cmdline: ${quoted}`)).message;
    assert.ok(node.startsWith('/x/d.yaml:30: nodes[1].cmdline: ') && node.includes(names), `${name}: ${node}`);
  }
  assert.match(errorOf(GOOD.replace('cmdline: rd.debug', `cmdline: ${'x'.repeat(1025)}`)).message, /:30: nodes\[1\]\.cmdline: is 1025 characters long; at most 1024 fit/);
  const real = 'console=tty0 console=ttyS0,115200n8 ip=10.77.0.5::10.77.0.1:255.255.255.0:n1:eth0:off systemd.unit=multi-user.target';
  assert.equal(parseConfig(GOOD.replace('cmdline: rd.debug', `cmdline: ${real}`), '/x/d.yaml').nodes[1]?.cmdline, real);
});

test('dhcp.domain, handed to every node for /etc/hosts and resolv.conf, must be a domain name', () => {
  for (const bad of ['"lab.test\\n10.6.6.6 server"', '"a;reboot"', '"-lab.test"', '"lab..test"', `${'a'.repeat(64)}.test`]) {
    assert.match(errorOf(GOOD.replace('domain: lab.test', `domain: ${bad}`)).message, /^\/x\/d\.yaml:12: dhcp\.domain: ".*" is not a domain name/s, bad);
  }
  assert.equal(parseConfig(GOOD.replace('domain: lab.test', 'domain: Cluster-1.example.org'), '/x/d.yaml').dhcp.domain, 'Cluster-1.example.org');
});

test('server.max_tftp_transfers and server.max_nbd_connections set the servers\' caps', () => {
  const c = parseConfig(GOOD.replace('state_dir: state', 'state_dir: state\n  max_tftp_transfers: 8\n  max_nbd_connections: 2'), '/x/d.yaml');
  assert.equal(c.server.maxTftpTransfers, 8);
  assert.equal(c.server.maxNbdConnections, 2);
});

test('server.max_http_connections(_per_peer) and api.max_event_streams set the HTTP and event stream caps', () => {
  const c = parseConfig(GOOD.replace('state_dir: state', 'state_dir: state\n  max_http_connections: 300\n  max_http_connections_per_peer: 5').replace('default_profile: default', 'default_profile: default\napi:\n  max_event_streams: 3'), '/x/d.yaml');
  assert.deepEqual([c.server.maxHttpConnections, c.server.maxHttpConnectionsPerPeer, c.api.maxEventStreams], [300, 5, 3]);
});

test('server.max_nbd_connections_per_peer sets the per-address cap, and a bad value names file, line and key', () => {
  const c = parseConfig(GOOD.replace('state_dir: state', 'state_dir: state\n  max_nbd_connections_per_peer: 3'), '/x/d.yaml');
  assert.equal(c.server.maxNbdConnectionsPerPeer, 3);
  assert.match(errorOf(GOOD.replace('state_dir: state', 'state_dir: state\n  max_nbd_connections_per_peer: many')).message, /^\/x\/d\.yaml:\d+: server\.max_nbd_connections_per_peer: must be an integer between 1 and 65535/);
});

test('server.max_tftp_transfers_per_peer sets the per-address cap, and a bad value names file, line and key', () => {
  const c = parseConfig(GOOD.replace('state_dir: state', 'state_dir: state\n  max_tftp_transfers_per_peer: 2'), '/x/d.yaml');
  assert.equal(c.server.maxTftpTransfersPerPeer, 2);
  assert.match(errorOf(GOOD.replace('state_dir: state', 'state_dir: state\n  max_tftp_transfers_per_peer: 0')).message, /^\/x\/d\.yaml:\d+: server\.max_tftp_transfers_per_peer: must be between 1 and 16384 \(got 0\)/);
});

test('api: the admin token beside the state, reads from loopback and the boot subnet by default', () => {
  const c = parseConfig(GOOD, '/etc/diskless/diskless.yaml');
  assert.equal(c.api.adminTokenFile, '/etc/diskless/state/admin-token');
  assert.deepEqual(c.api.readFrom, ['127.0.0.0/8', '::1/128', '10.77.0.0/24']);
  const wide = parseConfig(GOOD.replace('dns: 10.77.0.1', 'dns: 10.77.0.1\n  subnet_mask: 255.255.0.0'), '/x/d.yaml');
  assert.deepEqual(wide.api.readFrom.at(-1), '10.77.0.0/16');
});

test('api: admin_token_file is resolved beside the config; read_from replaces the default', () => {
  const c = parseConfig(`${GOOD}api:\n  admin_token_file: secrets/token\n  read_from: [192.168.5.0/24, 10.1.2.3, "fd00::/8"]\n`, '/etc/diskless/diskless.yaml');
  assert.equal(c.api.adminTokenFile, '/etc/diskless/secrets/token');
  assert.deepEqual(c.api.readFrom, ['192.168.5.0/24', '10.1.2.3', 'fd00::/8']);
});

test('NFS roots: version, an existing filer (server, path), and who may mount (server.nfs_clients)', () => {
  const base = (server: string, root: string, nodes = '') => `server: { address: 10.77.0.1${server} }
dhcp: { mode: full, pool: 10.77.0.100-10.77.0.150, subnet_mask: 255.255.0.0 }
profiles:
  p: { kernel: /k, root: ${root} }
nodes:${nodes || ' []'}
`;
  const c = parseConfig(base('', '{ mode: nfs, server: 10.9.0.5, path: /export/debian, version: 3 }'), '/etc/d.yaml');
  assert.deepEqual(c.profiles.get('p')?.root, { mode: 'nfs', copy: false, overlay: 'tmpfs', retry: 180, nfsVersion: 3, nfsServer: '10.9.0.5', nfsPath: '/export/debian' });
  assert.deepEqual(c.server.nfsClients, ['10.77.0.0/16'], 'the boot subnet by default');
  assert.deepEqual(parseConfig(base(', nfs_clients: [10.77.0.0/24, 10.78.0.5]', '{ mode: nfs, dir: /t }'), '/etc/d.yaml').server.nfsClients, ['10.77.0.0/24', '10.78.0.5']);
  assert.equal(parseConfig(base(', nfs_clients: inventory', '{ mode: nfs, dir: /t }', '\n  - { mac: "52:54:00:00:00:01", address: 10.77.0.11, profile: p }'), '/etc/d.yaml').server.nfsClients, 'inventory');
  const bad: Array<[string, string, string, RegExp]> = [
    ['', '{ mode: nfs, server: 10.9.0.5 }', '', /root\.path: an existing NFS server is named by server .* and path/],
    ['', '{ mode: nfs, server: filer.example, path: /x }', '', /root\.server: "filer\.example" is not an IPv4 address/],
    ['', '{ mode: nfs, server: 10.9.0.5, path: "/x:vers=4" }', '', /root\.path: .* is not an absolute export path/],
    ['', '{ mode: nfs, server: 10.9.0.5, path: /x, dir: /t }', '', /root\.dir: a root on another NFS server/],
    ['', '{ mode: nfs, dir: /t, version: 2 }', '', /root\.version: must be between 3 and 4/],
    ['', '{ mode: live, image: /i.sqfs, version: 3 }', '', /root\.version: only applies to mode nfs/],
    [', nfs_clients: [everyone]', '{ mode: nfs, dir: /t }', '', /server\.nfs_clients: "everyone" is not an IPv4 network/],
    [', nfs_clients: inventory', '{ mode: nfs, dir: /t }', '\n  - { mac: "52:54:00:00:00:01", profile: p }', /server\.nfs_clients: is inventory, but nodes\[0\] .* without an address/],
  ];
  for (const [server, root, nodes, want] of bad) assert.throws(() => parseConfig(base(server, root, nodes), '/etc/d.yaml'), (e: unknown) => e instanceof ConfigError && want.test(e.message), `${server} ${root}`);
});

test('profile disk: match keys, sizes, swap, scratch and kept paths; rendered as rd.diskless.disk.* words; bad values named', async () => {
  const { diskArgs } = await import('../boot/root-args.js');
  const base = (disk: string) => `server: { address: 10.77.0.1 }
profiles:
  p:
    kernel: /k
    disk: ${disk}
`;
  const p = parseConfig(base('{ match: { model: "QEMU HARDDISK", by_id: "virtio-dl*", size: 8G-2T }, swap: 2G, scratch: /scratch, persist: [/var/lib/docker, /etc/ssh] }'), '/etc/d.yaml').profiles.get('p')!;
  assert.deepEqual(p.disk, { match: { model: 'QEMU HARDDISK', byId: 'virtio-dl*', minBytes: 8 * 2 ** 30, maxBytes: 2 * 2 ** 40 }, upper: true, swapMiB: 2048, scratch: '/scratch', persist: ['/var/lib/docker', '/etc/ssh'] });
  assert.equal(diskArgs(p.disk), `rd.diskless.disk.model=QEMU?HARDDISK rd.diskless.disk.id=virtio-dl* rd.diskless.disk.size=${8 * 2 ** 30}-${2 * 2 ** 40} rd.diskless.disk.upper=1 rd.diskless.disk.swap=2048 rd.diskless.disk.scratch=/scratch rd.diskless.disk.persist=/var/lib/docker,/etc/ssh`);
  assert.equal(diskArgs(parseConfig(base('{ match: { path: /dev/sdb }, upper: false }'), '/etc/d.yaml').profiles.get('p')!.disk), 'rd.diskless.disk.path=/dev/sdb rd.diskless.disk.upper=0');
  const bad: Array<[string, RegExp]> = [
    ['{ swap: 1G }', /disk\.match: name the disk by path, model, by_id or size/],
    ['{ match: { size: 2T-8G } }', /disk\.match\.size: "2T-8G": expected MIN-MAX/],
    ['{ match: { path: /dev/../sda } }', /disk\.match\.path: .* is not a whole disk's \/dev\/NAME/],
    ['{ match: { model: "a;b" } }', /disk\.match\.model: .*a model glob/],
    ['{ match: { path: /dev/sda }, swap: 1.5K }', /disk\.swap: .* whole MiB/],
    ['{ match: { path: /dev/sda }, persist: [/var/../etc] }', /disk\.persist: .*\(no \. or \.\. segments\)/],
    ['{ match: { path: /dev/sda }, scratch: /run/scratch }', /disk\.scratch: \/run\/scratch is under \/proc, \/sys, \/dev or \/run/],
    ['{ match: { path: /dev/sda }, wipe: true }', /disk\.wipe: unknown setting/],
  ];
  for (const [disk, want] of bad) assert.throws(() => parseConfig(base(disk), '/etc/d.yaml'), (e: unknown) => e instanceof ConfigError && want.test(e.message), disk);
});

test('network: a bond (active-backup or 802.3ad) of MACs or name globs and a VLAN, per profile or node; rendered as rd.diskless.bond/vlan words', async () => {
  const { networkArgs } = await import('../boot/root-args.js');
  const c = parseConfig(`server: { address: 10.77.0.1 }
profiles:
  p: { kernel: /k, network: { vlan: 20 } }
nodes:
  - mac: "52:54:00:00:00:01"
    profile: p
    network: { bond: { mode: 802.3ad, interfaces: [52-54-00-00-00-01, "eth*"] }, vlan: 30 }
`, '/etc/d.yaml');
  assert.deepEqual(c.profiles.get('p')?.network, { vlan: 20 });
  assert.deepEqual(c.nodes[0]?.network, { bond: { mode: '802.3ad', interfaces: ['52:54:00:00:00:01', 'eth*'] }, vlan: 30 });
  assert.equal(networkArgs(c.nodes[0]?.network), 'rd.diskless.bond=802.3ad rd.diskless.bond.slaves=52-54-00-00-00-01,eth* rd.diskless.vlan=30');
  const bad: Array<[string, RegExp]> = [
    ['{ vlan: 4095 }', /network\.vlan: must be between 1 and 4094/],
    ['{ bond: { interfaces: [eth0] } }', /network\.bond\.interfaces: list at least two NICs/],
    ['{ bond: { mode: round-robin, interfaces: [eth0, eth1] } }', /network\.bond\.mode: must be one of active-backup, 802\.3ad/],
    ['{ bond: { interfaces: [eth0, "eth1;reboot"] } }', /neither a MAC address nor an interface name glob/],
    ['{ mtu: 9000 }', /network\.mtu: unknown setting/],
  ];
  for (const [network, want] of bad) {
    assert.throws(() => parseConfig(`server: { address: 10.77.0.1 }\nprofiles:\n  p: { kernel: /k, network: ${network} }\n`, '/etc/d.yaml'), (e: unknown) => e instanceof ConfigError && want.test(e.message), network);
  }
});

const ROUTED = `server:
  address: 10.1.0.1
  interface: up0
dhcp:
  mode: full
  dns: [10.1.0.53]
  domain: fleet.test
  lease_time: 600
  unknown_clients: deny
  subnets:
    - network: 10.1.0.0/24
      interface: up0
      pool: 10.1.0.100-10.1.0.150
      routers: [10.1.0.1]
    - network: 10.2.0.0/24
      pool: 10.2.0.100-10.2.0.150
      routers: [10.2.0.1]
      domain: rack2.fleet.test
      lease_time: 300
    - network: 10.3.0.0/24
      interface: lab3
      mode: proxy
      server_address: 10.3.0.1
profiles:
  default: { kernel: /k }
nodes:
  - mac: 52:54:00:00:00:01
    address: 10.2.0.50
`;

test('dhcp.subnets: each subnet with its own settings, dhcp-level dns, domain, lease_time and mode as defaults', () => {
  const c = parseConfig(ROUTED, '/x/d.yaml');
  const [lan, rack, lab] = c.dhcp.subnets;
  assert.deepEqual(c.dhcp.subnets.map((s) => [s.name, s.interface ?? null, s.attached, s.mode, s.serverAddress]), [
    ['10.1.0.0/24', 'up0', true, 'full', '10.1.0.1'],
    ['10.2.0.0/24', null, false, 'full', '10.1.0.1'],
    ['10.3.0.0/24', 'lab3', true, 'proxy', '10.3.0.1'],
  ]);
  assert.deepEqual([lan?.dns, lan?.domain, lan?.leaseTimeSec, lan?.mask], [['10.1.0.53'], 'fleet.test', 600, '255.255.255.0']);
  assert.deepEqual([rack?.domain, rack?.leaseTimeSec, rack?.pool], ['rack2.fleet.test', 300, { start: '10.2.0.100', end: '10.2.0.150' }]);
  assert.equal(lab?.pool, undefined);
  assert.deepEqual(c.api.readFrom, ['127.0.0.0/8', '::1/128', '10.1.0.0/24', '10.2.0.0/24', '10.3.0.0/24']);
});

const routedCases: Array<[string, string, RegExp]> = [
  ['host bits in a network', ROUTED.replace('network: 10.2.0.0/24', 'network: 10.2.0.9/24'), /^\/x\/d\.yaml:15: dhcp\.subnets\[1\]\.network: "10\.2\.0\.9\/24" has host bits set: the network is 10\.2\.0\.0\/24/],
  ['not a network', ROUTED.replace('network: 10.2.0.0/24', 'network: rack2'), /:15: dhcp\.subnets\[1\]\.network: "rack2" is not a network: use ADDRESS\/PREFIX/],
  ['overlapping subnets', ROUTED.replace('network: 10.3.0.0/24', 'network: 10.2.0.0/16'), /:20: dhcp\.subnets\[2\]\.network: 10\.2\.0\.0\/16 overlaps dhcp\.subnets\[1\] 10\.2\.0\.0\/24/],
  ['a router off the subnet', ROUTED.replace('routers: [10.2.0.1]', 'routers: [10.1.0.1]'), /:17: dhcp\.subnets\[1\]\.routers: 10\.1\.0\.1 is not in 10\.2\.0\.0\/24: a node's gateway must be on its own subnet/],
  ['a pool outside its subnet', ROUTED.replace('pool: 10.2.0.100-10.2.0.150', 'pool: 10.2.0.100-10.2.1.150'), /:16: dhcp\.subnets\[1\]\.pool: 10\.2\.1\.150 is not in 10\.2\.0\.0\/24/],
  ['two subnets on one interface', ROUTED.replace('interface: lab3', 'interface: up0'), /:21: dhcp\.subnets\[2\]\.interface: up0 is already the interface of dhcp\.subnets\[0\] 10\.1\.0\.0\/24/],
  ['single-pool keys beside subnets', ROUTED.replace('  lease_time: 600\n', '  lease_time: 600\n  pool: 10.1.0.10-10.1.0.20\n'), /:9: dhcp\.pool: belongs to one subnet: move it into its entry under dhcp\.subnets/],
  ['a typo inside a subnet', ROUTED.replace('      lease_time: 300', '      lease_tme: 300'), /:19: dhcp\.subnets\[1\]\.lease_tme: unknown setting/],
  ['a bad server_address', ROUTED.replace('server_address: 10.3.0.1', 'server_address: boot3'), /:23: dhcp\.subnets\[2\]\.server_address: "boot3" is not an IPv4 address/],
  ['a reservation in no subnet', ROUTED.replace('address: 10.2.0.50', 'address: 10.9.0.50'), /nodes\[52:54:00:00:00:01\]\.address: 10\.9\.0\.50 is not in any of dhcp\.subnets \(10\.1\.0\.0\/24, 10\.2\.0\.0\/24, 10\.3\.0\.0\/24\)/],
  ['an empty list', ROUTED.slice(0, ROUTED.indexOf('  subnets:')) + '  subnets: []\nprofiles:\n  default: { kernel: /k }\n', /:10: dhcp\.subnets: lists no subnet/],
];
for (const [name, text, re] of routedCases) {
  test(`config error in dhcp.subnets: ${name}`, () => assert.match(errorOf(text).message, re));
}

const PORTS = `${ROUTED}  - hostname: r2n7
    switch_port: { circuit_id: "Gi1/0/7", remote_id: "0x525400aabbcc" }
    address: 10.2.0.57
  - mac: 52:54:00:00:00:02
    hostname: both
    switch_port: { circuit_id: rack1 }
`;

test('nodes may be known by switch_port (circuit id, remote id as text or 0x-hex) instead of, or as well as, a MAC', () => {
  const c = parseConfig(PORTS, '/x/d.yaml');
  const [, byPort, both] = c.nodes;
  assert.deepEqual([byPort?.mac, byPort?.hostname, byPort?.switchPort, byPort?.address], [undefined, 'r2n7', { circuitId: 'Gi1/0/7', remoteId: '0x525400aabbcc' }, '10.2.0.57']);
  assert.deepEqual([both?.mac, both?.switchPort], ['52:54:00:00:00:02', { circuitId: 'rack1' }]);
  // Hex of printable bytes is the text itself, so a relay's "rack1" matches either spelling.
  assert.deepEqual(parseConfig(PORTS.replace('circuit_id: rack1', 'circuit_id: "0x7261636b31"'), '/x/d.yaml').nodes[2]?.switchPort, { circuitId: 'rack1' });
});

const portCases: Array<[string, string, RegExp]> = [
  ['neither mac nor switch_port', PORTS.replace('    switch_port: { circuit_id: "Gi1/0/7", remote_id: "0x525400aabbcc" }\n', ''), /^\/x\/d\.yaml:\d+: nodes\[1\]\.mac: is required \(or switch_port/],
  ['no hostname without a mac', PORTS.replace('  - hostname: r2n7\n    switch_port', '  - switch_port'), /nodes\[1\]\.hostname: is required for a node without a mac/],
  ['a port without circuit_id', PORTS.replace('circuit_id: "Gi1/0/7", ', ''), /nodes\[1\]\.switch_port\.circuit_id: is required/],
  ['an id that is not text or hex', PORTS.replace('remote_id: "0x525400aabbcc"', 'remote_id: "0x5254g"'), /nodes\[1\]\.switch_port\.remote_id: "0x5254g" is not a relay agent id/],
  ['a typo in switch_port', PORTS.replace('circuit_id: rack1', 'circuit: rack1'), /nodes\[2\]\.switch_port\.circuit: unknown setting/],
  ['one port, two nodes', PORTS.replace('circuit_id: rack1', 'circuit_id: "Gi1/0/7", remote_id: "0x525400AABBCC"'), /nodes\[2\]\.switch_port: circuit Gi1\/0\/7 on remote 0x525400aabbcc is already nodes\[1\]'s: one node per port/],
  ['a port node\'s host name taken', PORTS.replace('hostname: both', 'hostname: r2n7'), /nodes\[2\]\.hostname: r2n7 is already nodes\[1\]'s/],
];
for (const [name, text, re] of portCases) {
  test(`config error in switch_port: ${name}`, () => assert.match(errorOf(text).message, re));
}

test('server.answer_router_solicitations is auto unless set: answered on an IPv4-only boot link, decided at start', () => {
  assert.equal(parseConfig(GOOD, '/x/d.yaml').server.answerRouterSolicitations, 'auto');
  const set = (v: string) => parseConfig(GOOD.replace('state_dir: state', `state_dir: state\n  answer_router_solicitations: ${v}`), '/x/d.yaml').server.answerRouterSolicitations;
  assert.equal(set('auto'), 'auto');
  assert.equal(set('false'), false);
  assert.equal(set('true'), true);
  // auto needs no interface: the one holding server.address is used
  assert.equal(parseConfig(GOOD.replace('  interface: br0\n', ''), '/x/d.yaml').server.answerRouterSolicitations, 'auto');
});

test('server.file_cache_mb: 1 GiB by default, 0 turns it off, a bad value names file, line and key', () => {
  assert.equal(parseConfig(GOOD, '/x/d.yaml').server.fileCacheBytes, 1024 * 1024 * 1024);
  assert.equal(parseConfig(GOOD.replace('state_dir: state', 'state_dir: state\n  file_cache_mb: 0'), '/x/d.yaml').server.fileCacheBytes, 0);
  assert.equal(parseConfig(GOOD.replace('state_dir: state', 'state_dir: state\n  file_cache_mb: 2048'), '/x/d.yaml').server.fileCacheBytes, 2048 * 1024 * 1024);
  assert.match(errorOf(GOOD.replace('state_dir: state', 'state_dir: state\n  file_cache_mb: -1')).message, /^\/x\/d\.yaml:\d+: server\.file_cache_mb: must be between 0 and 1048576 \(got -1\)/);
});
