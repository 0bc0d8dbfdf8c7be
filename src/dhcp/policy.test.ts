import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideDhcpReply, type DhcpDecision } from './policy.js';
import type { DhcpNode, DhcpSettings } from './settings.js';
import { LeaseStore } from './lease-store.js';
import { decodeDhcpPacket, type DhcpPacket } from '../protocols/dhcp/packet.js';
import { DhcpMessageType } from '../protocols/dhcp/message-types.js';
import { OptionCode } from '../protocols/dhcp/option-codes.js';
import { getOption } from '../protocols/dhcp/option-spec.js';
import { DhcpOption } from '../protocols/dhcp/dhcp-options.js';
import { clientPacket, type ClientPacketFields } from '../protocols/dhcp/testdata/client-packets.js';
import { ipxeBiosDiscover } from '../protocols/dhcp/testdata/ipxe-bios-discover.js';
import { ovmfPxeDiscover } from '../protocols/dhcp/testdata/ovmf-pxe-discover.js';
import { uefiHttpDiscover } from '../protocols/dhcp/testdata/uefi-http-discover.js';

const SERVER = '10.0.0.1';
const UUID = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const PXE_BIOS = { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0, uuid: UUID, paramRequest: [1, 3, 6, 12, 15, 17, 43, 60, 66, 67] };

const MAC = {
  ipxe: '52:54:00:12:34:56',
  ovmf: '52:54:00:ab:cd:ef',
  http: '52:54:00:00:16:16',
  bios: '52:54:00:00:00:01',
  arm: '52:54:00:00:00:02',
  pxelinux: '52:54:00:00:00:03',
  reserved: '52:54:00:00:00:50',
  stranger: '02:00:00:00:00:99',
  armKernel: '52:54:00:00:0a:64',
  x64Kernel: '52:54:00:00:86:64',
} as const;

const NODES: DhcpNode[] = [
  { mac: MAC.ipxe, hostname: 'node1', loader: 'ipxe', secureBoot: false },
  { mac: MAC.ovmf, hostname: 'node2', loader: 'ipxe', secureBoot: false },
  { mac: MAC.http, loader: 'ipxe', secureBoot: false },
  { mac: MAC.bios, hostname: 'bios1', loader: 'ipxe', secureBoot: false },
  { mac: MAC.arm, loader: 'ipxe', secureBoot: false },
  { mac: MAC.pxelinux, hostname: 'legacy', loader: 'pxelinux', secureBoot: false },
  { mac: MAC.reserved, hostname: 'fixed', address: '10.0.0.50', loader: 'ipxe', secureBoot: false },
  { mac: MAC.armKernel, loader: 'grub', secureBoot: true, profile: 'arm', kernelArch: 'arm64' },
  { mac: MAC.x64Kernel, loader: 'ipxe', secureBoot: false, profile: 'x64', kernelArch: 'amd64' },
];

/** A refused boot: no boot file, and the reason names the profile, both architectures and the way out. */
function assertArchRefused(d: DhcpDecision, kernel: string, machine: string): void {
  assert.match(d.refused ?? '', new RegExp(`^kernel architecture mismatch: profile (arm|x64)'s kernel is ${kernel}, but this machine asked as ${machine}; give the node a profile with an? .* kernel$`));
  assert.match(d.reason, /no boot info: kernel architecture mismatch/);
}

function settings(overrides: Partial<DhcpSettings> = {}): DhcpSettings {
  return {
    mode: 'full',
    serverAddress: SERVER,
    network: '10.0.0.0',
    pool: { start: '10.0.0.100', end: '10.0.0.102' },
    subnetMask: '255.255.255.0',
    routers: ['10.0.0.254'],
    dnsServers: ['10.0.0.53', '10.0.0.54'],
    domainName: 'lab.example',
    broadcastAddress: '10.0.0.255',
    leaseTimeSec: 3600,
    rootPath: '10.0.0.1:/srv/root',
    unknownClients: 'allow',
    bootFiles: { bios: 'undionly.kpxe', efi64: 'ipxe.efi', pxelinux: 'pxelinux.0', shimX64: 'shimx64.efi', shimArm64: 'shimaa64.efi' },
    ipxeScriptUrl: (mac) => `http://${SERVER}:8080/boot/${mac}.ipxe`,
    httpBootUrl: (arch, loader) => `http://${SERVER}:8080/${loader}/${arch}/boot.efi`,
    ports: { server: 67, client: 68, proxy: 4011 },
    ...overrides,
  };
}

function golden(bytes: Uint8Array): DhcpPacket {
  const r = decodeDhcpPacket(bytes);
  assert.ok(r.ok);
  return r.packet;
}

const packet = (fields: ClientPacketFields): DhcpPacket => clientPacket(fields);

interface Case {
  name: string;
  packet: DhcpPacket;
  settings?: Partial<DhcpSettings>;
  port?: 'server' | 'proxy';
  /** Prepare the lease table before the request. */
  leases?: (store: LeaseStore) => void;
  /** Pass `reservedBy` so dynamic allocation sees other nodes' reservations. */
  reservations?: boolean;
  /** Servers sharing the lease table that are gone (their requests are ours). */
  gonePeers?: string[];
  check: (d: DhcpDecision, store: LeaseStore) => void;
}

function replyOf(d: DhcpDecision): DhcpPacket {
  if (!d.reply) assert.fail(`expected a reply, got silence: ${d.reason}`);
  return d.reply;
}

function typeOf(p: DhcpPacket): number | undefined {
  return getOption(p, DhcpOption.messageType);
}

const CASES: Case[] = [
  {
    name: 'BIOS PXE full: OFFER from the pool with undionly.kpxe',
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.bios, ...PXE_BIOS }),
    check: (d) => {
      const r = replyOf(d);
      assert.equal(typeOf(r), DhcpMessageType.Offer);
      assert.equal(r.op, 2);
      assert.equal(r.yiaddr, '10.0.0.100');
      assert.equal(r.siaddr, SERVER);
      assert.equal(r.file, 'undionly.kpxe');
      assert.equal(r.xid, 0x1234abcd);
      assert.equal(r.flags, 0x8000);
      assert.equal(getOption(r, DhcpOption.serverIdentifier), SERVER);
      assert.equal(getOption(r, DhcpOption.leaseTime), 3600);
      assert.equal(getOption(r, DhcpOption.subnetMask), '255.255.255.0');
      assert.deepEqual(getOption(r, DhcpOption.routers), ['10.0.0.254']);
      assert.deepEqual(getOption(r, DhcpOption.dnsServers), ['10.0.0.53', '10.0.0.54']);
      assert.equal(getOption(r, DhcpOption.hostName), 'bios1');
      assert.equal(getOption(r, DhcpOption.domainName), 'lab.example');
      assert.equal(getOption(r, DhcpOption.rootPath), '10.0.0.1:/srv/root');
      assert.equal(getOption(r, DhcpOption.tftpServerName), SERVER);
      assert.equal(getOption(r, DhcpOption.bootfileName), 'undionly.kpxe');
      assert.deepEqual(getOption(r, DhcpOption.clientMachineId)?.guid, UUID);
      assert.equal(r.options.has(OptionCode.VendorClassIdentifier), false, 'full mode does not claim PXEClient');
      // 53 and 54 first, then option 55's order, then what is always sent.
      assert.deepEqual([...r.options.keys()], [53, 54, 1, 3, 6, 12, 15, 17, 66, 67, 51, 97]);
      assert.deepEqual(d.lease, { kind: 'offer', mac: MAC.bios, ip: '10.0.0.100', holdSec: 60 });
    },
  },
  {
    name: 'BIOS PXE proxy: OFFER without an address, PXEClient, discovery control 8',
    settings: { mode: 'proxy' },
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.bios, ...PXE_BIOS }),
    check: (d) => {
      const r = replyOf(d);
      assert.equal(typeOf(r), DhcpMessageType.Offer);
      assert.equal(r.yiaddr, '0.0.0.0');
      assert.equal(r.siaddr, SERVER);
      assert.equal(r.file, 'undionly.kpxe');
      assert.equal(getOption(r, DhcpOption.vendorClassIdentifier), 'PXEClient');
      assert.deepEqual(r.options.get(OptionCode.VendorSpecific), Buffer.from([6, 1, 8, 255]));
      assert.equal(getOption(r, DhcpOption.serverIdentifier), SERVER);
      assert.deepEqual(getOption(r, DhcpOption.clientMachineId)?.guid, UUID);
      for (const code of [1, 3, 6, 12, 51]) assert.equal(r.options.has(code), false, `option ${code} in a proxy offer`);
      assert.equal(d.lease, undefined);
    },
  },
  {
    name: 'proxy answers the PXE REQUEST on port 4011 with an ACK carrying the same boot info',
    settings: { mode: 'proxy' },
    port: 'proxy',
    packet: packet({ type: DhcpMessageType.Request, mac: MAC.bios, ciaddr: '10.0.0.123', ...PXE_BIOS }),
    check: (d) => {
      const r = replyOf(d);
      assert.equal(typeOf(r), DhcpMessageType.Ack);
      assert.equal(r.yiaddr, '0.0.0.0');
      assert.equal(r.ciaddr, '10.0.0.123');
      assert.equal(r.file, 'undionly.kpxe');
      assert.equal(getOption(r, DhcpOption.vendorClassIdentifier), 'PXEClient');
      assert.equal(d.lease, undefined);
    },
  },
  {
    name: 'proxy leaves the REQUEST on port 67 to the real DHCP server',
    settings: { mode: 'proxy' },
    packet: packet({ type: DhcpMessageType.Request, mac: MAC.bios, serverId: '10.0.0.2', requestedIp: '10.0.0.7', ...PXE_BIOS }),
    check: (d) => {
      assert.equal(d.reply, null);
      assert.equal(d.quiet, true);
      assert.equal(d.lease, undefined);
    },
  },
  {
    name: 'iPXE full: boot script URL, hostname, boot file name option',
    packet: golden(ipxeBiosDiscover),
    check: (d) => {
      const r = replyOf(d);
      assert.equal(r.file, `http://${SERVER}:8080/boot/${MAC.ipxe}.ipxe`);
      assert.equal(getOption(r, DhcpOption.bootfileName), r.file);
      assert.equal(getOption(r, DhcpOption.hostName), 'node1');
      assert.equal(r.xid, 0x3c1d6a52);
      assert.deepEqual(r.options.get(OptionCode.ClientIdentifier), Buffer.from('01525400123456', 'hex'), 'RFC 6842 echo');
    },
  },
  {
    name: 'iPXE proxy: boot script URL as well',
    settings: { mode: 'proxy' },
    packet: golden(ipxeBiosDiscover),
    check: (d) => {
      const r = replyOf(d);
      assert.equal(r.file, `http://${SERVER}:8080/boot/${MAC.ipxe}.ipxe`);
      assert.equal(r.yiaddr, '0.0.0.0');
    },
  },
  {
    name: 'EFI x64 (OVMF, arch 7): ipxe.efi',
    packet: golden(ovmfPxeDiscover),
    check: (d) => assert.equal(replyOf(d).file, 'ipxe.efi'),
  },
  {
    // Debian ships no arm64 iPXE: arm64 gets the signed chain whatever its loader says.
    name: 'EFI arm64 (arch 11): the arm64 shim',
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.arm, vendorClass: 'PXEClient:Arch:00011:UNDI:003000', arch: 11 }),
    check: (d) => assert.equal(replyOf(d).file, 'shimaa64.efi'),
  },
  {
    name: 'UEFI HTTPClient: full URL and option 60 "HTTPClient"',
    packet: golden(uefiHttpDiscover),
    check: (d) => {
      const r = replyOf(d);
      assert.equal(r.file, `http://${SERVER}:8080/ipxe/efi-x64/boot.efi`);
      assert.equal(getOption(r, DhcpOption.vendorClassIdentifier), 'HTTPClient');
      assert.equal(getOption(r, DhcpOption.bootfileName), r.file);
    },
  },
  {
    name: 'HTTPClient with a URL too long for the file field: option 67 only',
    settings: { httpBootUrl: () => `http://${SERVER}:8080/${'x'.repeat(150)}.efi` },
    packet: golden(uefiHttpDiscover),
    check: (d) => {
      const r = replyOf(d);
      assert.equal(r.file, '');
      assert.equal(getOption(r, DhcpOption.bootfileName)?.length, 'http://10.0.0.1:8080/'.length + 154);
    },
  },
  {
    name: 'arm64 kernel, x86-64 UEFI PXE (arch 7): the address, but no boot file, and the boot refused by name',
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.armKernel, vendorClass: 'PXEClient:Arch:00007:UNDI:003016', arch: 7 }),
    check: (d) => {
      const r = replyOf(d);
      assert.equal(typeOf(r), DhcpMessageType.Offer);
      assert.equal(r.yiaddr, '10.0.0.100');
      assert.equal(r.file, '');
      assert.equal(getOption(r, DhcpOption.bootfileName), undefined);
      assertArchRefused(d, 'arm64', 'x86-64 UEFI, DHCP architecture 7');
    },
  },
  {
    name: 'arm64 kernel, proxy mode, x86 BIOS: silence, refused by name',
    settings: { mode: 'proxy' },
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.armKernel, ...PXE_BIOS }),
    check: (d) => {
      assert.equal(d.reply, null);
      assertArchRefused(d, 'arm64', 'x86 BIOS, DHCP architecture 0');
    },
  },
  {
    name: 'arm64 kernel, x86-64 UEFI HTTP boot (arch 16) and an iPXE asking as x86-64: refused too',
    packet: golden(uefiHttpDiscover),
    check: () => {
      const store = new LeaseStore({ now: () => Date.UTC(2026, 0, 1) });
      const http = decide({ packet: packet({ type: DhcpMessageType.Discover, mac: MAC.armKernel, vendorClass: 'HTTPClient:Arch:00016:UNDI:003016', arch: 16 }) }, store);
      assert.equal(replyOf(http).file, '');
      assertArchRefused(http, 'arm64', 'x86-64 UEFI HTTP boot, DHCP architecture 16');
      const ipxe = decide({ packet: packet({ type: DhcpMessageType.Discover, mac: MAC.armKernel, arch: 7, userClass: 'iPXE' }) }, store);
      assertArchRefused(ipxe, 'arm64', 'x86-64 UEFI, DHCP architecture 7');
    },
  },
  {
    name: 'x86-64 kernel, arm64 UEFI (arch 11): refused; the same node on BIOS or x86-64 UEFI boots',
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.x64Kernel, vendorClass: 'PXEClient:Arch:00011:UNDI:003000', arch: 11 }),
    check: (d) => {
      assert.equal(replyOf(d).file, '');
      assertArchRefused(d, 'x86-64', 'arm64 UEFI, DHCP architecture 11');
      const store = new LeaseStore({ now: () => Date.UTC(2026, 0, 1) });
      const bios = decide({ packet: packet({ type: DhcpMessageType.Discover, mac: MAC.x64Kernel, ...PXE_BIOS }) }, store);
      assert.equal(replyOf(bios).file, 'undionly.kpxe');
      assert.equal(bios.refused, undefined);
      const efi = decide({ packet: packet({ type: DhcpMessageType.Discover, mac: MAC.x64Kernel, vendorClass: 'PXEClient:Arch:00007:UNDI:003016', arch: 7 }) }, store);
      assert.equal(replyOf(efi).file, 'ipxe.efi');
    },
  },
  {
    name: 'arm64 kernel, arm64 UEFI (arch 11): the arm64 shim; a client that names no architecture is not judged',
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.armKernel, vendorClass: 'PXEClient:Arch:00011:UNDI:003000', arch: 11 }),
    check: (d) => {
      assert.equal(replyOf(d).file, 'shimaa64.efi');
      assert.equal(d.refused, undefined);
      // The initramfs's udhcpc sends no option 93.
      const plain = decide({ packet: packet({ type: DhcpMessageType.Discover, mac: MAC.armKernel }) }, new LeaseStore({ now: () => Date.UTC(2026, 0, 1) }));
      assert.equal(plain.refused, undefined);
    },
  },
  {
    name: 'pxelinux node on BIOS: pxelinux.0',
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.pxelinux, ...PXE_BIOS }),
    check: (d) => assert.equal(replyOf(d).file, 'pxelinux.0'),
  },
  {
    // QEMU's NIC ROMs are iPXE: a pxelinux node must still get pxelinux.0, not the iPXE script.
    name: 'pxelinux node behind an iPXE ROM: pxelinux.0',
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.pxelinux, ...PXE_BIOS, userClass: 'iPXE' }),
    check: (d) => assert.equal(replyOf(d).file, 'pxelinux.0'),
  },
  {
    name: 'unknown arch in full mode: address without boot info',
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.stranger, vendorClass: 'udhcp 1.35.0' }),
    check: (d) => {
      const r = replyOf(d);
      assert.equal(r.file, '');
      assert.equal(r.siaddr, '0.0.0.0');
      assert.match(d.reason, /no boot info: no boot file for arch unknown/);
      // No request list: every configured parameter goes out.
      for (const code of [1, 3, 6, 15, 17, 28, 51, 54]) assert.equal(r.options.has(code), true, `option ${code}`);
    },
  },
  {
    name: 'unknown client denied',
    settings: { unknownClients: 'deny' },
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.stranger, ...PXE_BIOS }),
    check: (d) => {
      assert.equal(d.reply, null);
      assert.match(d.reason, /unknown client denied/);
      assert.equal(d.lease, undefined);
    },
  },
  {
    name: 'unknown client denied in proxy mode too',
    settings: { unknownClients: 'deny', mode: 'proxy' },
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.stranger, ...PXE_BIOS }),
    check: (d) => assert.equal(d.reply, null),
  },
  {
    name: 'registered unknown client gets an offer from the pool and boot info',
    settings: { unknownClients: 'register' },
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.stranger, ...PXE_BIOS }),
    check: (d) => {
      const r = replyOf(d);
      assert.equal(typeOf(r), DhcpMessageType.Offer);
      assert.equal(r.yiaddr, '10.0.0.100');
      assert.equal(r.file, 'undionly.kpxe');
      assert.equal(getOption(r, DhcpOption.hostName), undefined);
    },
  },
  {
    name: 'registered unknown iPXE client is sent to its per-MAC script',
    settings: { unknownClients: 'register' },
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.stranger, ...PXE_BIOS, userClass: 'iPXE' }),
    check: (d) => assert.equal(replyOf(d).file, `http://${SERVER}:8080/boot/${MAC.stranger}.ipxe`),
  },
  {
    name: 'registered unknown client gets a proxy answer in proxy mode',
    settings: { unknownClients: 'register', mode: 'proxy' },
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.stranger, ...PXE_BIOS }),
    check: (d) => {
      const r = replyOf(d);
      assert.equal(typeOf(r), DhcpMessageType.Offer);
      assert.equal(r.yiaddr, '0.0.0.0');
      assert.equal(r.file, 'undionly.kpxe');
    },
  },
  {
    name: 'deny still drops a request from an unknown client (REQUEST too)',
    settings: { unknownClients: 'deny' },
    packet: packet({ type: DhcpMessageType.Request, mac: MAC.stranger, requestedIp: '10.0.0.100', serverId: SERVER, ...PXE_BIOS }),
    check: (d) => {
      assert.equal(d.reply, null);
      assert.match(d.reason, /unknown client denied/);
      assert.equal(d.lease, undefined);
    },
  },
  {
    name: 'non-PXE client in proxy mode ignored',
    settings: { mode: 'proxy' },
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.bios, vendorClass: 'MSFT 5.0' }),
    check: (d) => {
      assert.equal(d.reply, null);
      assert.equal(d.quiet, true);
      assert.match(d.reason, /not a PXE client/);
    },
  },
  {
    name: 'REQUEST (selecting) for our offer: ACK and bind',
    packet: packet({ type: DhcpMessageType.Request, mac: MAC.bios, serverId: SERVER, requestedIp: '10.0.0.100', ...PXE_BIOS }),
    leases: (s) => s.apply({ kind: 'offer', mac: MAC.bios, ip: '10.0.0.100', holdSec: 60 }),
    check: (d, store) => {
      const r = replyOf(d);
      assert.equal(typeOf(r), DhcpMessageType.Ack);
      assert.equal(r.yiaddr, '10.0.0.100');
      assert.equal(r.file, 'undionly.kpxe');
      assert.deepEqual(d.lease, { kind: 'bind', mac: MAC.bios, ip: '10.0.0.100', leaseSec: 3600, hostname: 'bios1' });
      assert.equal(store.leaseForMac(MAC.bios)?.state, 'bound');
    },
  },
  {
    name: "REQUEST for another server's offer ignored, our offer withdrawn",
    packet: packet({ type: DhcpMessageType.Request, mac: MAC.bios, serverId: '10.0.0.2', requestedIp: '10.0.0.7' }),
    leases: (s) => s.apply({ kind: 'offer', mac: MAC.bios, ip: '10.0.0.100', holdSec: 60 }),
    check: (d, store) => {
      assert.equal(d.reply, null);
      assert.equal(d.quiet, true);
      assert.deepEqual(d.lease, { kind: 'cancel-offer', mac: MAC.bios, ip: '10.0.0.7' });
      assert.equal(store.leaseForMac(MAC.bios), undefined);
    },
  },
  {
    name: 'REQUEST naming a peer that shares the lease table and is gone: ACKed here, as ours',
    packet: packet({ type: DhcpMessageType.Request, mac: MAC.bios, serverId: '10.0.0.2', requestedIp: '10.0.0.100' }),
    gonePeers: ['10.0.0.2'],
    leases: (s) => s.apply({ kind: 'offer', mac: MAC.bios, ip: '10.0.0.100', holdSec: 60 }),
    check: (d, store) => {
      const r = replyOf(d);
      assert.equal(typeOf(r), DhcpMessageType.Ack);
      assert.equal(r.yiaddr, '10.0.0.100');
      assert.equal(getOption(r, DhcpOption.serverIdentifier), SERVER);
      assert.match(d.reason, /selecting, for gone server 10\.0\.0\.2/);
      assert.equal(store.leaseForMac(MAC.bios)?.state, 'bound');
    },
  },
  {
    name: 'REQUEST naming a live peer (or any other server) stays ignored',
    packet: packet({ type: DhcpMessageType.Request, mac: MAC.bios, serverId: '10.0.0.2', requestedIp: '10.0.0.100' }),
    gonePeers: ['10.0.0.3'],
    check: (d) => {
      assert.equal(d.reply, null);
      assert.equal(d.lease?.kind, 'cancel-offer');
    },
  },
  {
    name: 'RELEASE naming a gone peer is honoured',
    packet: packet({ type: DhcpMessageType.Release, mac: MAC.bios, serverId: '10.0.0.2', ciaddr: '10.0.0.100' }),
    gonePeers: ['10.0.0.2'],
    leases: (s) => s.apply({ kind: 'bind', mac: MAC.bios, ip: '10.0.0.100', leaseSec: 600 }),
    check: (d, store) => {
      assert.deepEqual(d.lease, { kind: 'release', mac: MAC.bios, ip: '10.0.0.100' });
      assert.ok(!store.isHeldBy('10.0.0.100', MAC.bios));
    },
  },
  {
    name: 'REQUEST (selecting) for an address taken meanwhile: NAK',
    packet: packet({ type: DhcpMessageType.Request, mac: MAC.bios, serverId: SERVER, requestedIp: '10.0.0.101' }),
    leases: (s) => s.apply({ kind: 'bind', mac: MAC.arm, ip: '10.0.0.101', leaseSec: 600 }),
    check: (d) => assert.equal(typeOf(replyOf(d)), DhcpMessageType.Nak),
  },
  {
    name: 'NAK for wrong address in init-reboot (reserved node asks for another address)',
    packet: packet({ type: DhcpMessageType.Request, mac: MAC.reserved, requestedIp: '10.0.0.77' }),
    check: (d) => {
      const r = replyOf(d);
      assert.equal(typeOf(r), DhcpMessageType.Nak);
      assert.equal(r.yiaddr, '0.0.0.0');
      assert.equal(r.file, '');
      assert.equal(getOption(r, DhcpOption.serverIdentifier), SERVER);
      assert.match(getOption(r, DhcpOption.message) ?? '', /init-reboot: 10\.0\.0\.77/);
      assert.deepEqual([...r.options.keys()], [53, 54, 56]);
      assert.equal(d.lease, undefined);
    },
  },
  {
    name: 'NAK in init-reboot for an address on another network',
    packet: packet({ type: DhcpMessageType.Request, mac: MAC.bios, requestedIp: '192.168.1.20' }),
    check: (d) => {
      assert.equal(typeOf(replyOf(d)), DhcpMessageType.Nak);
      assert.match(d.reason, /not on this network/);
    },
  },
  {
    name: 'init-reboot for the right address: ACK',
    packet: packet({ type: DhcpMessageType.Request, mac: MAC.reserved, requestedIp: '10.0.0.50' }),
    check: (d) => assert.equal(replyOf(d).yiaddr, '10.0.0.50'),
  },
  {
    name: 'RENEWING: ACK with ciaddr kept',
    packet: packet({ type: DhcpMessageType.Request, mac: MAC.bios, ciaddr: '10.0.0.101' }),
    leases: (s) => s.apply({ kind: 'bind', mac: MAC.bios, ip: '10.0.0.101', leaseSec: 600 }),
    check: (d) => {
      const r = replyOf(d);
      assert.equal(typeOf(r), DhcpMessageType.Ack);
      assert.equal(r.ciaddr, '10.0.0.101');
      assert.equal(r.yiaddr, '10.0.0.101');
      assert.match(d.reason, /renewing/);
    },
  },
  {
    name: "RENEWING someone else's address: NAK",
    packet: packet({ type: DhcpMessageType.Request, mac: MAC.bios, ciaddr: '10.0.0.101' }),
    leases: (s) => s.apply({ kind: 'bind', mac: MAC.arm, ip: '10.0.0.101', leaseSec: 600 }),
    check: (d) => assert.equal(typeOf(replyOf(d)), DhcpMessageType.Nak),
  },
  {
    name: 'DECLINE marks the address bad; the next DISCOVER gets another one',
    packet: packet({ type: DhcpMessageType.Decline, mac: MAC.bios, serverId: SERVER, requestedIp: '10.0.0.100' }),
    leases: (s) => s.apply({ kind: 'bind', mac: MAC.bios, ip: '10.0.0.100', leaseSec: 600 }),
    check: (d, store) => {
      assert.equal(d.reply, null);
      assert.deepEqual(d.lease, { kind: 'decline', mac: MAC.bios, ip: '10.0.0.100', holdSec: 600 });
      const next = decide({ packet: packet({ type: DhcpMessageType.Discover, mac: MAC.bios }) }, store);
      assert.equal(replyOf(next).yiaddr, '10.0.0.101');
    },
  },
  {
    name: "DECLINE of another client's lease: refused, logged as suspicious, the lease untouched",
    packet: packet({ type: DhcpMessageType.Decline, mac: MAC.arm, serverId: SERVER, requestedIp: '10.0.0.100' }),
    leases: (s) => s.apply({ kind: 'bind', mac: MAC.bios, ip: '10.0.0.100', leaseSec: 600 }),
    check: (d, store) => {
      assert.equal(d.reply, null);
      assert.equal(d.lease, undefined);
      assert.equal(d.quiet, true);
      assert.equal(d.suspicious, true);
      assert.match(d.reason, /DECLINE refused: 10\.0\.0\.100 is not offered or bound to this client/);
      assert.equal(store.leaseForIp('10.0.0.100')?.state, 'bound');
      const renew = decide({ packet: packet({ type: DhcpMessageType.Request, mac: MAC.bios, ciaddr: '10.0.0.100' }) }, store);
      assert.equal(typeOf(replyOf(renew)), DhcpMessageType.Ack);
    },
  },
  {
    name: "DECLINE of a reserved node's address by a stranger: refused; the node still renews and reboots onto it",
    packet: packet({ type: DhcpMessageType.Decline, mac: MAC.stranger, serverId: SERVER, requestedIp: '10.0.0.50' }),
    leases: (s) => s.apply({ kind: 'bind', mac: MAC.reserved, ip: '10.0.0.50', leaseSec: 600 }),
    reservations: true,
    check: (d, store) => {
      assert.equal(d.lease, undefined);
      assert.match(d.reason, /DECLINE refused: 10\.0\.0\.50 is not a pool address this client may have/);
      const renew = decide({ packet: packet({ type: DhcpMessageType.Request, mac: MAC.reserved, ciaddr: '10.0.0.50' }), reservations: true }, store);
      assert.equal(typeOf(replyOf(renew)), DhcpMessageType.Ack);
      const reboot = decide({ packet: packet({ type: DhcpMessageType.Discover, mac: MAC.reserved }), reservations: true }, store);
      assert.equal(replyOf(reboot).yiaddr, '10.0.0.50');
    },
  },
  {
    name: 'DECLINE of a reserved address nobody was given yet: refused, the node still gets it',
    packet: packet({ type: DhcpMessageType.Decline, mac: MAC.bios, serverId: SERVER, requestedIp: '10.0.0.50' }),
    check: (d, store) => {
      assert.equal(d.lease, undefined);
      assert.equal(d.suspicious, true);
      const offer = decide({ packet: packet({ type: DhcpMessageType.Discover, mac: MAC.reserved }) }, store);
      assert.equal(replyOf(offer).yiaddr, '10.0.0.50');
    },
  },
  {
    name: 'DECLINE of a pool address: refused until it is offered to the decliner, then honoured',
    packet: packet({ type: DhcpMessageType.Decline, mac: MAC.bios, serverId: SERVER, requestedIp: '10.0.0.101' }),
    check: (d, store) => {
      assert.equal(d.lease, undefined);
      assert.equal(store.leaseForIp('10.0.0.101'), undefined);
      store.apply({ kind: 'offer', mac: MAC.bios, ip: '10.0.0.101', holdSec: 60 });
      const again = decide({ packet: packet({ type: DhcpMessageType.Decline, mac: MAC.bios, serverId: SERVER, requestedIp: '10.0.0.101' }) }, store);
      assert.deepEqual(again.lease, { kind: 'decline', mac: MAC.bios, ip: '10.0.0.101', holdSec: 600 });
      assert.equal(again.suspicious, undefined);
      store.apply(again.lease!);
      const next = decide({ packet: packet({ type: DhcpMessageType.Discover, mac: MAC.bios, requestedIp: '10.0.0.101' }) }, store);
      assert.equal(replyOf(next).yiaddr, '10.0.0.100');
    },
  },
  {
    name: 'DECLINE of its own lease outside the pool and its reservation: refused',
    packet: packet({ type: DhcpMessageType.Decline, mac: MAC.bios, serverId: SERVER, requestedIp: '10.0.0.7' }),
    // A binding from a reservation since removed from the config, read back from the lease file.
    leases: (s) => s.apply({ kind: 'bind', mac: MAC.bios, ip: '10.0.0.7', leaseSec: 600 }),
    check: (d) => {
      assert.equal(d.lease, undefined);
      assert.match(d.reason, /10\.0\.0\.7 is not a pool address this client may have/);
    },
  },
  {
    name: 'DECLINE by a reserved node of anything but its reservation: refused',
    packet: packet({ type: DhcpMessageType.Decline, mac: MAC.reserved, serverId: SERVER, requestedIp: '10.0.0.101' }),
    leases: (s) => s.apply({ kind: 'offer', mac: MAC.reserved, ip: '10.0.0.101', holdSec: 60 }),
    check: (d) => {
      assert.equal(d.lease, undefined);
      assert.match(d.reason, /10\.0\.0\.101 is not this client's reservation 10\.0\.0\.50/);
    },
  },
  {
    name: 'DECLINE of a pool address reserved for another node, even with a stale lease on it: refused',
    packet: packet({ type: DhcpMessageType.Decline, mac: MAC.bios, serverId: SERVER, requestedIp: '10.0.0.100' }),
    reservations: true,
    leases: (s) => s.apply({ kind: 'bind', mac: MAC.bios, ip: '10.0.0.100', leaseSec: 600 }),
    check: (d) => assert.equal(d.lease, undefined),
  },
  {
    name: 'DECLINE of its own lease after it expired: refused',
    packet: packet({ type: DhcpMessageType.Decline, mac: MAC.bios, serverId: SERVER, requestedIp: '10.0.0.100' }),
    leases: (s) => s.apply({ kind: 'bind', mac: MAC.bios, ip: '10.0.0.100', leaseSec: 0 }),
    check: (d, store) => {
      assert.equal(d.lease, undefined);
      assert.equal(store.isAvailable('10.0.0.100', MAC.arm), true);
    },
  },
  {
    name: 'a reserved node declining its own reservation is honoured: no offer while the decline holds',
    packet: packet({ type: DhcpMessageType.Decline, mac: MAC.reserved, serverId: SERVER, requestedIp: '10.0.0.50' }),
    leases: (s) => s.apply({ kind: 'bind', mac: MAC.reserved, ip: '10.0.0.50', leaseSec: 600 }),
    check: (d, store) => {
      assert.deepEqual(d.lease, { kind: 'decline', mac: MAC.reserved, ip: '10.0.0.50', holdSec: 600 });
      const next = decide({ packet: packet({ type: DhcpMessageType.Discover, mac: MAC.reserved }) }, store);
      assert.equal(next.reply, null);
      assert.match(next.reason, /declined/);
      // INIT-REBOOT is a client starting over, not one using the address: NAK, then DISCOVER.
      const reboot = decide({ packet: packet({ type: DhcpMessageType.Request, mac: MAC.reserved, requestedIp: '10.0.0.50' }) }, store);
      assert.equal(typeOf(replyOf(reboot)), DhcpMessageType.Nak);
      // But a renewal means the node runs on it: a decline in its name (a spoofer of its MAC)
      // must not cut it off, and the renewal binds the address again.
      const renew = decide({ packet: packet({ type: DhcpMessageType.Request, mac: MAC.reserved, ciaddr: '10.0.0.50' }) }, store);
      assert.equal(typeOf(replyOf(renew)), DhcpMessageType.Ack);
      assert.deepEqual(renew.lease, { kind: 'bind', mac: MAC.reserved, ip: '10.0.0.50', leaseSec: 3600, hostname: 'fixed' });
    },
  },
  {
    name: 'RENEWING a pool lease over a decline in its own name: ACK',
    packet: packet({ type: DhcpMessageType.Request, mac: MAC.bios, ciaddr: '10.0.0.101' }),
    leases: (s) => {
      s.apply({ kind: 'bind', mac: MAC.bios, ip: '10.0.0.101', leaseSec: 600 });
      s.apply({ kind: 'decline', mac: MAC.bios, ip: '10.0.0.101', holdSec: 600 });
    },
    check: (d, store) => {
      assert.equal(typeOf(replyOf(d)), DhcpMessageType.Ack);
      assert.equal(store.leaseForMac(MAC.bios)?.state, 'bound');
      assert.equal(store.isAvailable('10.0.0.101', MAC.arm), false);
    },
  },
  {
    name: 'RELEASE frees the address for others',
    packet: packet({ type: DhcpMessageType.Release, mac: MAC.bios, serverId: SERVER, ciaddr: '10.0.0.100' }),
    leases: (s) => s.apply({ kind: 'bind', mac: MAC.bios, ip: '10.0.0.100', leaseSec: 600 }),
    check: (d, store) => {
      assert.equal(d.reply, null);
      assert.deepEqual(d.lease, { kind: 'release', mac: MAC.bios, ip: '10.0.0.100' });
      assert.equal(store.isAvailable('10.0.0.100', MAC.arm), true);
    },
  },
  {
    name: 'INFORM: ACK with parameters, no address, no lease time',
    packet: packet({ type: DhcpMessageType.Inform, mac: MAC.bios, ciaddr: '10.0.0.9', paramRequest: [1, 3, 6] }),
    check: (d) => {
      const r = replyOf(d);
      assert.equal(typeOf(r), DhcpMessageType.Ack);
      assert.equal(r.yiaddr, '0.0.0.0');
      assert.equal(r.ciaddr, '10.0.0.9');
      assert.equal(r.options.has(OptionCode.LeaseTime), false);
      assert.deepEqual(getOption(r, DhcpOption.routers), ['10.0.0.254']);
      assert.equal(d.lease, undefined);
    },
  },
  {
    name: 'pool exhaustion: no offer, reason logged',
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.bios, ...PXE_BIOS }),
    leases: (s) => {
      ['10.0.0.100', '10.0.0.101', '10.0.0.102'].forEach((ip, i) => s.apply({ kind: 'bind', mac: `02:00:00:00:00:0${i}`, ip, leaseSec: 600 }));
    },
    check: (d) => {
      assert.equal(d.reply, null);
      assert.match(d.reason, /pool 10\.0\.0\.100-10\.0\.0\.102 exhausted/);
      assert.equal(d.lease, undefined);
    },
  },
  {
    name: 'reservation outside the pool honoured',
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.reserved, ...PXE_BIOS }),
    check: (d) => {
      assert.equal(replyOf(d).yiaddr, '10.0.0.50');
      assert.equal(getOption(replyOf(d), DhcpOption.hostName), 'fixed');
      assert.match(d.reason, /reservation/);
    },
  },
  {
    name: 'a client keeps its previous address over the one it asks for',
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.bios, requestedIp: '10.0.0.100' }),
    leases: (s) => s.apply({ kind: 'bind', mac: MAC.bios, ip: '10.0.0.102', leaseSec: 1 }),
    check: (d) => assert.equal(replyOf(d).yiaddr, '10.0.0.102'),
  },
  {
    name: 'requested address granted when free in the pool',
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.bios, requestedIp: '10.0.0.101' }),
    check: (d) => assert.equal(replyOf(d).yiaddr, '10.0.0.101'),
  },
  {
    name: 'pool skips addresses reserved for other nodes',
    reservations: true,
    packet: packet({ type: DhcpMessageType.Discover, mac: MAC.bios }),
    check: (d) => assert.equal(replyOf(d).yiaddr, '10.0.0.101'),
  },
  {
    name: 'BOOTREPLY on the server port is not ours to answer',
    packet: { ...packet({ type: DhcpMessageType.Offer, mac: MAC.bios }), op: 2 },
    check: (d) => assert.equal(d.reply, null),
  },
];

// For cases with `reservations`: 10.0.0.100, inside the pool, is reserved for the ARM node.
function reservedBy(ip: string): string | undefined {
  return ip === '10.0.0.100' ? MAC.arm : NODES.find((n) => n.address === ip)?.mac;
}

function decide(c: Pick<Case, 'packet' | 'settings' | 'port' | 'reservations' | 'gonePeers'>, store: LeaseStore): DhcpDecision {
  const mac = [...c.packet.chaddr.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
  return decideDhcpReply({
    packet: c.packet,
    port: c.port ?? 'server',
    settings: settings(c.settings),
    node: NODES.find((n) => n.mac === mac),
    leases: store,
    ...(c.reservations ? { reservedBy } : {}),
    ...(c.gonePeers ? { peerIsGone: (id: string) => c.gonePeers!.includes(id) } : {}),
  });
}

describe('decideDhcpReply', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const clock = Date.UTC(2026, 0, 1);
      const store = new LeaseStore({ now: () => clock });
      c.leases?.(store);
      const d = decide(c, store);
      assert.equal(typeof d.reason, 'string');
      if (d.lease) store.apply(d.lease);
      c.check(d, store);
    });
  }
});
