// Several subnets behind one server: a request is placed by giaddr (relayed), by ciaddr (a
// client that has an address), else by the interface it arrived on; addresses, reservations,
// leases and every URL come from that subnet. Golden bytes of a real dhcrelay packet and the
// server's answer to it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BootDhcpResponder } from './responder.js';
import { selectSubnet } from './subnet-selection.js';
import { LeaseStore } from './lease-store.js';
import { PoolCursor } from './address-choice.js';
import { parseIpv4 } from '../net/ipv4.js';
import type { DhcpNode, DhcpSettings } from './settings.js';
import { decodeDhcpPacket, encodeDhcpPacket, type DhcpPacket } from '../protocols/dhcp/packet.js';
import { clientPacket } from '../protocols/dhcp/testdata/client-packets.js';
import { relayedIpxeDiscover, RELAY_GIADDR, RELAYED_MAC } from '../protocols/dhcp/testdata/relayed-discover.js';
import { relayedIpxeOffer } from './testdata/relayed-offer.js';
import { replyDestination } from '../protocols/dhcp/reply-destination.js';
import { DhcpMessageType } from '../protocols/dhcp/message-types.js';
import { getOption } from '../protocols/dhcp/option-spec.js';
import { DhcpOption } from '../protocols/dhcp/dhcp-options.js';
import type { DhcpArrival } from '../protocols/dhcp/server.js';

const PORTS = { server: 67, client: 68, proxy: 4011 };
const common = {
  unknownClients: 'allow' as const,
  leaseTimeSec: 3600,
  dnsServers: ['10.1.0.53'],
  bootFiles: { bios: 'undionly.kpxe', efi64: 'ipxe.efi', pxelinux: 'pxelinux.0', shimX64: 'shimx64.efi', shimArm64: 'shimaa64.efi' },
  ports: PORTS,
};
const urls = (server: string) => ({
  ipxeScriptUrl: (mac: string) => `http://${server}/boot/${mac.replaceAll(':', '-')}.ipxe`,
  httpBootUrl: () => `http://${server}/ipxe.efi`,
});

/** The server's own link, on interface up0. */
const LAN: DhcpSettings = {
  ...common, ...urls('10.1.0.1'), mode: 'full', name: '10.1.0.0/24', network: '10.1.0.0', subnetMask: '255.255.255.0',
  serverAddress: '10.1.0.1', interfaceName: 'up0', attached: true, pool: { start: '10.1.0.100', end: '10.1.0.110' }, routers: ['10.1.0.1'], domainName: 'one.test',
};
/** A rack behind a relay (10.2.0.1), booting from 10.1.0.1. */
const RACK2: DhcpSettings = {
  ...common, ...urls('10.1.0.1'), mode: 'full', name: '10.2.0.0/24', network: '10.2.0.0', subnetMask: '255.255.255.0',
  serverAddress: '10.1.0.1', attached: false, pool: { start: '10.2.0.100', end: '10.2.0.110' }, routers: ['10.2.0.1'], domainName: 'rack2.test',
};
/** A second link of the server (interface lab3), with its own server address there. */
const LAB3: DhcpSettings = {
  ...common, ...urls('10.3.0.1'), mode: 'full', name: '10.3.0.0/24', network: '10.3.0.0', subnetMask: '255.255.255.0',
  serverAddress: '10.3.0.1', interfaceName: 'lab3', attached: true, pool: { start: '10.3.0.100', end: '10.3.0.110' }, routers: ['10.3.0.1'],
};
const SUBNETS = [LAN, RACK2, LAB3];

const onUp0: DhcpArrival = { port: 'server', interface: 'up0' };
const golden = (bytes: Uint8Array): DhcpPacket => {
  const r = decodeDhcpPacket(bytes);
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.packet;
};

describe('selectSubnet', () => {
  const discover = (f: { giaddr?: string; ciaddr?: string } = {}) => clientPacket({ type: DhcpMessageType.Discover, mac: '52:54:00:00:00:01', ...f });
  const cases: Array<[string, DhcpPacket, DhcpArrival, readonly DhcpSettings[], string | RegExp]> = [
    ['relayed: the subnet holding giaddr, whatever link the relay reached us on', discover({ giaddr: '10.2.0.1' }), onUp0, SUBNETS, '10.2.0.0/24 by giaddr'],
    ['relayed from a network we do not serve: none, naming giaddr', discover({ giaddr: '10.9.0.1' }), onUp0, SUBNETS, /^no subnet for relay 10\.9\.0\.1: giaddr is in none of 10\.1\.0\.0\/24, 10\.2\.0\.0\/24, 10\.3\.0\.0\/24$/],
    ['giaddr decides even over a ciaddr elsewhere', discover({ giaddr: '10.2.0.1', ciaddr: '10.1.0.5' }), onUp0, SUBNETS, '10.2.0.0/24 by giaddr'],
    ['unrelayed on up0: the server\'s own link', discover(), onUp0, SUBNETS, '10.1.0.0/24 by interface'],
    ['unrelayed on lab3: that link\'s subnet', discover(), { port: 'server', interface: 'lab3' }, SUBNETS, '10.3.0.0/24 by interface'],
    ['unrelayed on an interface no subnet is on: none', discover(), { port: 'server', interface: 'eth9' }, SUBNETS, /^no subnet for this unrelayed request: no subnet is on interface eth9/],
    ['a renewal straight from a relayed client: its ciaddr, not the link it came in on', discover({ ciaddr: '10.2.0.105' }), onUp0, SUBNETS, '10.2.0.0/24 by ciaddr'],
    ['a ciaddr in no subnet falls back to the link', discover({ ciaddr: '192.168.7.7' }), onUp0, SUBNETS, '10.1.0.0/24 by interface'],
    ['a relayed-only subnet never takes an unrelayed request without an address', discover(), onUp0, [RACK2], /no subnet is on interface up0/],
    ['one socket on every interface: the lone attached subnet', discover(), { port: 'server' }, [LAN, RACK2], '10.1.0.0/24 by interface'],
    ['one socket on every interface and two attached subnets: cannot tell', discover(), { port: 'server' }, [LAN, LAB3], /several subnets \(10\.1\.0\.0\/24, 10\.3\.0\.0\/24\) could be on the server's own link/],
    ['the PXE request on port 4011 carries ciaddr', discover({ ciaddr: '10.3.0.102' }), { port: 'proxy', interface: 'lab3' }, SUBNETS, '10.3.0.0/24 by ciaddr'],
  ];
  for (const [name, packet, arrival, subnets, expected] of cases) {
    it(name, () => {
      const choice = selectSubnet(packet, arrival, subnets);
      const got = choice.ok ? `${choice.subnet.name} by ${choice.by}` : choice.reason;
      if (typeof expected === 'string') assert.equal(got, expected);
      else assert.match(got, expected);
    });
  }
});

function responder(nodes: DhcpNode[] = [], leases = new LeaseStore()): { r: BootDhcpResponder; leases: LeaseStore } {
  const r = new BootDhcpResponder({
    settings: { subnets: SUBNETS, interfaces: ['up0', 'lab3'], ports: PORTS },
    lookupNode: (mac) => nodes.find((n) => n.mac === mac),
    reservedBy: (ip) => nodes.find((n) => n.address === ip)?.mac,
    leaseStore: leases,
  });
  return { r, leases };
}

describe('a relayed DISCOVER, golden bytes', () => {
  it('is answered from the relay\'s subnet: giaddr copied, hops 0, every byte as written out', async () => {
    const request = golden(relayedIpxeDiscover);
    assert.equal(request.hops, 1);
    assert.equal(request.giaddr, RELAY_GIADDR);
    const answer = await responder().r.answer(request, onUp0);
    assert.ok(answer.reply, answer.reason);
    assert.equal(answer.subnet, '10.2.0.0/24');
    assert.equal(answer.reason, 'offer 10.2.0.100 (pool), boot http://10.1.0.1/boot/52-54-00-12-34-56.ipxe');
    assert.deepEqual(encodeDhcpPacket(answer.reply).toString('hex'), Buffer.from(relayedIpxeOffer).toString('hex'));
    // RFC 2131 §4.1: a relayed request's reply goes to the relay's server port.
    const to = replyDestination({ request, reply: answer.reply, via: 'server', peer: { address: '10.1.0.254', port: 67 }, ports: PORTS, broadcastAddress: '255.255.255.255' });
    assert.deepEqual(to, { address: RELAY_GIADDR, port: 67 });
  });

  it('from a relay of a network no subnet holds: no reply, and the reason names giaddr', async () => {
    const request = golden(relayedIpxeDiscover);
    request.giaddr = '10.9.0.1';
    const answer = await responder().r.answer(request, onUp0);
    assert.equal(answer.reply, undefined);
    assert.match(answer.reason, /^no subnet for relay 10\.9\.0\.1/);
  });
});

describe('addresses, reservations and leases per subnet', () => {
  const discover = (mac: string, f: { giaddr?: string } = {}, xid = 1) => clientPacket({ type: DhcpMessageType.Discover, mac, xid, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0, ...f });
  const offered = (a: { reply?: DhcpPacket; reason: string }): string => {
    assert.ok(a.reply, a.reason);
    return a.reply.yiaddr;
  };

  it('each subnet hands out its own pool, with its own router, mask and server', async () => {
    const { r } = responder();
    const lan = await r.answer(discover('52:54:00:00:00:01'), onUp0);
    const rack = await r.answer(discover('52:54:00:00:00:02', { giaddr: '10.2.0.1' }), onUp0);
    const rack2nd = await r.answer(discover('52:54:00:00:00:03', { giaddr: '10.2.0.1' }), onUp0);
    const lab3 = await r.answer(discover('52:54:00:00:00:04'), { port: 'server', interface: 'lab3' });
    assert.deepEqual([offered(lan), offered(rack), offered(rack2nd), offered(lab3)], ['10.1.0.100', '10.2.0.100', '10.2.0.101', '10.3.0.100']);
    assert.deepEqual(getOption(rack.reply!, DhcpOption.routers), ['10.2.0.1']);
    assert.equal(getOption(lab3.reply!, DhcpOption.serverIdentifier), '10.3.0.1', 'lab3 has its own server address');
    assert.equal(lab3.reply!.siaddr, '10.3.0.1');
    assert.equal(getOption(rack.reply!, DhcpOption.serverIdentifier), '10.1.0.1');
  });

  it('each subnet\'s pool scans start where poolCursor puts them, asked once per subnet', async () => {
    const asked: string[] = [];
    const r = new BootDhcpResponder({
      settings: { subnets: SUBNETS, interfaces: ['up0', 'lab3'], ports: PORTS },
      lookupNode: () => undefined,
      leaseStore: new LeaseStore(),
      poolCursor: (subnet) => {
        asked.push(subnet.name!);
        const cursor = new PoolCursor();
        cursor.next = parseIpv4(subnet.pool!.end)! - 1;
        return cursor;
      },
    });
    const lan = await r.answer(discover('52:54:00:00:00:01'), onUp0);
    const rack = await r.answer(discover('52:54:00:00:00:02', { giaddr: '10.2.0.1' }), onUp0);
    const rack2nd = await r.answer(discover('52:54:00:00:00:03', { giaddr: '10.2.0.1' }), onUp0);
    assert.deepEqual([offered(lan), offered(rack), offered(rack2nd)], ['10.1.0.109', '10.2.0.109', '10.2.0.110']);
    assert.deepEqual(asked, ['10.1.0.0/24', '10.2.0.0/24']);
  });

  it('a reservation holds on its own subnet; elsewhere the node gets that subnet\'s pool, and nobody gets its address', async () => {
    const node: DhcpNode = { mac: '52:54:00:00:00:50', hostname: 'r2n1', address: '10.2.0.50', loader: 'ipxe', secureBoot: false };
    const { r } = responder([node]);
    assert.equal(offered(await r.answer(discover(node.mac, { giaddr: '10.2.0.1' }), onUp0)), '10.2.0.50');
    const moved = await r.answer(discover(node.mac, {}, 2), onUp0);
    assert.equal(offered(moved), '10.1.0.100', 'plugged into the server\'s own link: a pool address there');
    assert.match(moved.reason, /\(pool\)/);
  });

  it('a machine moved to another rack gets an address there; its old lease is not offered', async () => {
    const { r, leases } = responder();
    const mac = '52:54:00:00:00:07';
    leases.apply({ kind: 'bind', mac, ip: '10.1.0.105', leaseSec: 3600 });
    assert.equal(offered(await r.answer(discover(mac), onUp0)), '10.1.0.105', 'at home: its own lease');
    assert.equal(offered(await r.answer(discover(mac, { giaddr: '10.2.0.1' }, 2), onUp0)), '10.2.0.100');
  });

  it('a relayed client renewing straight to the server is ACKed on its own subnet', async () => {
    const { r, leases } = responder();
    const mac = '52:54:00:00:00:08';
    leases.apply({ kind: 'bind', mac, ip: '10.2.0.104', leaseSec: 3600 });
    const renew = await r.answer(clientPacket({ type: DhcpMessageType.Request, mac, ciaddr: '10.2.0.104' }), onUp0);
    assert.ok(renew.reply, renew.reason);
    assert.equal(getOption(renew.reply, DhcpOption.messageType), DhcpMessageType.Ack);
    assert.equal(renew.reply.yiaddr, '10.2.0.104');
    assert.equal(renew.subnet, '10.2.0.0/24');
    assert.deepEqual(getOption(renew.reply, DhcpOption.routers), ['10.2.0.1']);
  });

  it('INIT-REBOOT with an address from another subnet is NAKed through the relay', async () => {
    const { r } = responder();
    const nak = await r.answer(clientPacket({ type: DhcpMessageType.Request, mac: RELAYED_MAC, giaddr: '10.2.0.1', requestedIp: '10.1.0.100' }), onUp0);
    assert.ok(nak.reply, nak.reason);
    assert.equal(getOption(nak.reply, DhcpOption.messageType), DhcpMessageType.Nak);
    assert.equal(nak.reply.giaddr, '10.2.0.1');
    assert.match(nak.reason, /10\.1\.0\.100 is not on this network/);
  });
});
