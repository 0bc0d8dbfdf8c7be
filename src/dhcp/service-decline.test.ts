import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopbackSettings } from '../protocols/dhcp/testdata/loopback-settings.js';
import type { DhcpEvent, DhcpServer } from '../protocols/dhcp/server.js';
import { bootDhcpServer } from './responder.js';
import { type DhcpNode, singleSubnet } from './settings.js';
import { LeaseStore } from './lease-store.js';
import { DhcpMessageType, messageTypeName } from '../protocols/dhcp/message-types.js';
import { DhcpOption } from '../protocols/dhcp/dhcp-options.js';
import { getOption } from '../protocols/dhcp/option-spec.js';
import { encodeDhcpPacket } from '../protocols/dhcp/packet.js';
import { clientPacket, type ClientPacketFields } from '../protocols/dhcp/testdata/client-packets.js';
import { loopbackOnlySockets } from '../protocols/dhcp/testdata/loopback-socket.js';
import { TestDhcpClient } from '../protocols/dhcp/testdata/test-client.js';
import { countingLogger } from '../testing/counting-logger.js';
import { floodUdp } from '../testing/udp-flood.js';
import { canCollectGarbage, MiB, settledHeapUsed } from '../testing/heap.js';
import { randomInt, seededRandom } from '../testing/seeded-random.js';

const SERVER = '127.0.0.1';
const PXE = { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0 };
const SEED = 0xdec11e;
const FLOOD = 5000;

/** A node with a fixed reservation outside the pool (127.0.0.100-110). */
const RESERVED: DhcpNode = { mac: '52:54:00:00:05:50', hostname: 'fixed', address: '127.0.0.50', loader: 'ipxe', secureBoot: false };
const POOL_CLIENT = '52:54:00:00:05:01';
const OTHER_CLIENT = '52:54:00:00:05:02';
const ATTACKER = '02:00:00:00:66:66';
const NAMED = new Set([RESERVED.mac, POOL_CLIENT, OTHER_CLIENT, ATTACKER]);

interface Harness {
  server: DhcpServer;
  client: TestDhcpClient;
  store: LeaseStore;
  events: DhcpEvent[];
  logger: ReturnType<typeof countingLogger>;
  refused: string[];
  port: number;
  path: string;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-dhcp-decline-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'dhcp-leases.json');
  // 0.0.0.0: the ACK to a RENEWING client goes to its ciaddr (127.0.0.50), not to 127.0.0.1.
  const client = await TestDhcpClient.open('0.0.0.0');
  cleanups.push(() => client.close());
  const sockets = loopbackOnlySockets();
  const events: DhcpEvent[] = [];
  const logger = countingLogger();
  const store = new LeaseStore({ path });
  const server = bootDhcpServer({
    settings: singleSubnet(loopbackSettings(client.port, { serverAddress: SERVER })),
    lookupNode: (mac) => (mac === RESERVED.mac ? RESERVED : undefined),
    reservedBy: (ip) => (ip === RESERVED.address ? RESERVED.mac : undefined),
    leaseStore: store,
    logger,
    createSocket: sockets.create,
    // Only the named clients' events: keeping the flood's would be the test's own heap growth.
    onEvent: (e) => { if (NAMED.has(e.mac)) events.push(e); },
    broadcastTarget: '127.0.0.1',
  });
  await server.start();
  cleanups.push(() => server.stop());
  return { server, client, store, events, logger, refused: sockets.refused, port: server.boundPorts.server!, path };
}

/** Sends one client message and returns the type and yiaddr of the server's reply. */
async function exchange(h: Harness, fields: ClientPacketFields & { xid: number }): Promise<{ type: string; ip: string }> {
  await h.client.send(clientPacket({ ...PXE, ...fields }), h.port);
  const reply = await h.client.reply(fields.xid);
  return { type: messageTypeName(getOption(reply, DhcpOption.messageType) ?? 0), ip: reply.yiaddr };
}

/** Sends a DECLINE and waits (with a deadline) until the server has handled it. */
async function decline(h: Harness, mac: string, ip: string, xid: number): Promise<void> {
  const handled = (): boolean => h.events.some((e) => e.xid === xid && e.type === 'decline');
  await h.client.send(clientPacket({ type: DhcpMessageType.Decline, mac, xid, serverId: SERVER, requestedIp: ip }), h.port);
  const deadline = Date.now() + 5000;
  while (!handled()) {
    if (Date.now() > deadline) throw new Error(`the server never handled DECLINE 0x${xid.toString(16)}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The lease file as the next server start would read it. */
function leaseFile(path: string): Array<{ ip: string; mac: string; state: string }> {
  return (JSON.parse(readFileSync(path, 'utf8')) as { leases: Array<{ ip: string; mac: string; state: string }> }).leases;
}

const bound = (path: string): Map<string, string> =>
  new Map(leaseFile(path).filter((l) => l.state === 'bound').map((l) => [l.mac, l.ip]));

describe('DhcpServer and DHCPDECLINE over UDP on loopback', () => {
  it(`${FLOOD} spoofed DECLINEs from random chaddrs for reserved, pool and arbitrary addresses: nothing declined or persisted, the nodes keep their addresses (seed ${SEED.toString(16)})`, async () => {
    const h = await harness();
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Discover, mac: RESERVED.mac, xid: 0x100 }), { type: 'OFFER', ip: '127.0.0.50' });
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Request, mac: RESERVED.mac, xid: 0x101, serverId: SERVER, requestedIp: '127.0.0.50' }), { type: 'ACK', ip: '127.0.0.50' });
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Discover, mac: POOL_CLIENT, xid: 0x102 }), { type: 'OFFER', ip: '127.0.0.100' });
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Request, mac: POOL_CLIENT, xid: 0x103, serverId: SERVER, requestedIp: '127.0.0.100' }), { type: 'ACK', ip: '127.0.0.100' });

    const random = seededRandom(SEED);
    // Half aim at the reserved address, the pool client's address and the rest of the pool;
    // half at arbitrary addresses of the subnet, each of which was a new table entry.
    const targets = ['127.0.0.50', ...Array.from({ length: 11 }, (_, i) => `127.0.0.${100 + i}`)];
    const octet = (): number => randomInt(random, 256);
    const spoofed = (): Uint8Array => {
      const mac = ['02', ...Array.from({ length: 5 }, () => octet().toString(16).padStart(2, '0'))].join(':');
      const requestedIp = random() < 0.5 ? targets[randomInt(random, targets.length)]! : `127.${octet()}.${octet()}.${1 + randomInt(random, 254)}`;
      return encodeDhcpPacket(clientPacket({ type: DhcpMessageType.Decline, mac, xid: randomInt(random, 2 ** 32), serverId: SERVER, requestedIp }));
    };
    const seen = (): number => h.logger.count('dhcp decline');
    // Warm-up: JIT and socket buffers reach their steady size before the baseline.
    await floodUdp({ port: h.port, count: 200, packet: spoofed, seen });
    await h.store.flush();
    const baseline = await settledHeapUsed();

    const r = await floodUdp({ port: h.port, count: FLOOD, packet: spoofed, seen });
    await h.store.flush();
    const after = await settledHeapUsed();
    const declined = leaseFile(h.path).filter((l) => l.state === 'declined').length;
    const held = h.store.list().filter((l) => l.state === 'declined').length;
    console.log(`decline flood: ${r.seen}/${r.sent} seen in ${r.ms} ms; ${declined} declined entries persisted (file ${statSync(h.path).size} bytes), ${held} in memory; ` +
      `heap ${((after - baseline) / MiB).toFixed(2)} MiB over baseline (gc: ${canCollectGarbage}); ${h.logger.total('warn')} warn lines`);
    assert.ok(r.seen >= FLOOD * 0.99, `the server saw only ${r.seen} of ${FLOOD}`);
    assert.equal(r.replies, 0, 'a DECLINE is never answered');
    assert.equal(declined, 0, 'no declined entry in the lease file');
    assert.equal(held, 0, 'no declined entry in memory');
    assert.deepEqual(bound(h.path), new Map([[RESERVED.mac, '127.0.0.50'], [POOL_CLIENT, '127.0.0.100']]), 'both bindings intact on disk');
    // A flood is summarised, not logged at warn once per packet.
    assert.ok(h.logger.count('dhcp suspicious request dropped', 'warn') >= 1, 'the refused DECLINEs are reported');
    assert.ok(h.logger.total('warn') <= 1 + Math.floor(r.ms / 60_000), `${h.logger.total('warn')} warn lines for ${FLOOD} DECLINEs`);
    assert.equal(h.logger.total('error'), 0);
    const margin = canCollectGarbage ? 8 * MiB : 48 * MiB;
    assert.ok(after - baseline < margin, `heap grew ${((after - baseline) / MiB).toFixed(1)} MiB over the flood`);

    // Both running nodes renew (RENEWING: ciaddr, no option 50/54) and get an ACK, not a NAK.
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Request, mac: RESERVED.mac, xid: 0x104, ciaddr: '127.0.0.50' }), { type: 'ACK', ip: '127.0.0.50' });
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Request, mac: POOL_CLIENT, xid: 0x105, ciaddr: '127.0.0.100' }), { type: 'ACK', ip: '127.0.0.100' });
    // A legitimate new client is still served from the pool.
    assert.equal((await exchange(h, { type: DhcpMessageType.Discover, mac: OTHER_CLIENT, xid: 0x106 })).type, 'OFFER');
    assert.deepEqual(h.refused, []);
  });

  it("another chaddr's DECLINE of a reserved node's address disturbs neither its boot nor its renewals", async () => {
    const h = await harness();
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Discover, mac: RESERVED.mac, xid: 0x200 }), { type: 'OFFER', ip: '127.0.0.50' });
    // Between OFFER and REQUEST, the moment a spoofed DECLINE hurt most.
    await decline(h, ATTACKER, '127.0.0.50', 0x2f0);
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Request, mac: RESERVED.mac, xid: 0x201, serverId: SERVER, requestedIp: '127.0.0.50' }), { type: 'ACK', ip: '127.0.0.50' });

    await decline(h, ATTACKER, '127.0.0.50', 0x2f1);
    // RENEWING (unicast to the server, ACK unicast back to ciaddr) and REBINDING look alike on the wire.
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Request, mac: RESERVED.mac, xid: 0x202, ciaddr: '127.0.0.50' }), { type: 'ACK', ip: '127.0.0.50' });
    await decline(h, ATTACKER, '127.0.0.50', 0x2f2);
    // A reboot: INIT-REBOOT, then a full DISCOVER, both still get the reservation.
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Request, mac: RESERVED.mac, xid: 0x203, requestedIp: '127.0.0.50' }), { type: 'ACK', ip: '127.0.0.50' });
    await decline(h, ATTACKER, '127.0.0.50', 0x2f3);
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Discover, mac: RESERVED.mac, xid: 0x204 }), { type: 'OFFER', ip: '127.0.0.50' });
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Request, mac: RESERVED.mac, xid: 0x205, serverId: SERVER, requestedIp: '127.0.0.50' }), { type: 'ACK', ip: '127.0.0.50' });

    await h.store.flush();
    assert.deepEqual(leaseFile(h.path).map((l) => [l.mac, l.ip, l.state]), [[RESERVED.mac, '127.0.0.50', 'bound']]);
    assert.equal(h.events.filter((e) => e.type === 'nak').length, 0, 'no NAK at all');
    assert.deepEqual(h.refused, []);
  });

  it('the client that was given an address may decline it: the address is held and the client gets another', async () => {
    const h = await harness();
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Discover, mac: POOL_CLIENT, xid: 0x300 }), { type: 'OFFER', ip: '127.0.0.100' });
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Request, mac: POOL_CLIENT, xid: 0x301, serverId: SERVER, requestedIp: '127.0.0.100' }), { type: 'ACK', ip: '127.0.0.100' });
    // RFC 2131 §4.4.1: its ARP probe found 127.0.0.100 in use, so it declines and starts over.
    await decline(h, POOL_CLIENT, '127.0.0.100', 0x302);
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Discover, mac: POOL_CLIENT, xid: 0x303 }), { type: 'OFFER', ip: '127.0.0.101' });
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Request, mac: POOL_CLIENT, xid: 0x304, serverId: SERVER, requestedIp: '127.0.0.101' }), { type: 'ACK', ip: '127.0.0.101' });
    // The declined address is held against everyone else too, even when asked for by name.
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Discover, mac: OTHER_CLIENT, xid: 0x305, requestedIp: '127.0.0.100' }), { type: 'OFFER', ip: '127.0.0.102' });
    assert.equal(h.store.list().find((l) => l.ip === '127.0.0.100')?.state, 'declined');

    // Someone else declining the client's new address changes nothing.
    await decline(h, ATTACKER, '127.0.0.101', 0x306);
    assert.deepEqual(await exchange(h, { type: DhcpMessageType.Request, mac: POOL_CLIENT, xid: 0x307, ciaddr: '127.0.0.101' }), { type: 'ACK', ip: '127.0.0.101' });

    // The file holds the new binding only: not the declined one, and no decline (they live in memory).
    await h.store.flush();
    assert.deepEqual(leaseFile(h.path).map((l) => [l.mac, l.ip, l.state]), [[POOL_CLIENT, '127.0.0.101', 'bound']]);
  });
});
