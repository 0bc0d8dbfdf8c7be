import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { loopbackSettings } from '../protocols/dhcp/testdata/loopback-settings.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DhcpEvent, DhcpServer } from '../protocols/dhcp/server.js';
import { bootDhcpServer } from './responder.js';
import { type DhcpNode, type DhcpSettings, singleSubnet } from './settings.js';
import { LeaseStore } from './lease-store.js';
import { memoryLogger } from '../log/logger.js';
import { DhcpMessageType } from '../protocols/dhcp/message-types.js';
import { DhcpOption } from '../protocols/dhcp/dhcp-options.js';
import { getOption } from '../protocols/dhcp/option-spec.js';
import { decodeDhcpPacket } from '../protocols/dhcp/packet.js';
import { clientPacket } from '../protocols/dhcp/testdata/client-packets.js';
import { loopbackOnlySockets } from '../protocols/dhcp/testdata/loopback-socket.js';
import { TestDhcpClient } from '../protocols/dhcp/testdata/test-client.js';
import { ipxeBiosDiscover } from '../protocols/dhcp/testdata/ipxe-bios-discover.js';
import { randomBytes, randomInt, seededRandom } from '../testing/seeded-random.js';

const SERVER = '127.0.0.1';
const PXE = { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0 };

function settings(clientPort: number, overrides: Partial<DhcpSettings> = {}): DhcpSettings {
  return loopbackSettings(clientPort, { serverAddress: SERVER, ...overrides });
}

interface Harness {
  server: DhcpServer;
  client: TestDhcpClient;
  events: DhcpEvent[];
  logger: ReturnType<typeof memoryLogger>;
  refused: string[];
  port: { server: number; proxy?: number };
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(opts: { leaseStore?: LeaseStore; nodes?: DhcpNode[]; settings?: Partial<DhcpSettings>; client?: TestDhcpClient } = {}): Promise<Harness> {
  const client = opts.client ?? await TestDhcpClient.open();
  if (!opts.client) cleanups.push(() => client.close());
  const sockets = loopbackOnlySockets();
  const events: DhcpEvent[] = [];
  const logger = memoryLogger();
  const nodes = opts.nodes ?? [];
  const server = bootDhcpServer({
    settings: singleSubnet(settings(client.port, opts.settings)),
    lookupNode: (mac) => nodes.find((n) => n.mac === mac),
    leaseStore: opts.leaseStore ?? new LeaseStore(),
    logger,
    createSocket: sockets.create,
    onEvent: (e) => events.push(e),
    broadcastTarget: '127.0.0.1',
  });
  await server.start();
  cleanups.push(() => server.stop());
  const bound = server.boundPorts;
  return { server, client, events, logger, refused: sockets.refused, port: { server: bound.server!, ...(bound.proxy ? { proxy: bound.proxy } : {}) } };
}

/** DISCOVER → OFFER → REQUEST → ACK; returns the ACK. */
async function lease(h: Harness, mac: string, xid: number): Promise<{ offer: string; ack: string }> {
  await h.client.send(clientPacket({ type: DhcpMessageType.Discover, mac, xid, ...PXE }), h.port.server);
  const offer = await h.client.reply(xid);
  assert.equal(getOption(offer, DhcpOption.messageType), DhcpMessageType.Offer);
  await h.client.send(clientPacket({ type: DhcpMessageType.Request, mac, xid, serverId: SERVER, requestedIp: offer.yiaddr, ...PXE }), h.port.server);
  const ack = await h.client.reply(xid);
  assert.equal(getOption(ack, DhcpOption.messageType), DhcpMessageType.Ack);
  return { offer: offer.yiaddr, ack: ack.yiaddr };
}

describe('DhcpServer over UDP on loopback', () => {
  it('serves a full DISCOVER/OFFER/REQUEST/ACK exchange', async () => {
    const h = await harness({ nodes: [{ mac: '52:54:00:00:00:01', hostname: 'n1', loader: 'ipxe', secureBoot: false }] });
    const { offer, ack } = await lease(h, '52:54:00:00:00:01', 0x1001);
    assert.equal(offer, '127.0.0.100');
    assert.equal(ack, '127.0.0.100');
    assert.deepEqual(h.events.map((e) => e.type), ['discover', 'offer', 'request', 'ack']);
    assert.deepEqual(h.events[1], {
      type: 'offer', mac: '52:54:00:00:00:01', xid: 0x1001, ip: '127.0.0.100', file: 'undionly.kpxe',
      reason: 'offer 127.0.0.100 (pool), boot undionly.kpxe', peerPort: h.client.port, vendorClass: PXE.vendorClass, at: h.events[1]!.at,
    });
    const ackLine = h.logger.lines.find((l) => l.type === 'ack');
    assert.ok(ackLine);
    assert.equal(ackLine.level, 'info');
    assert.equal(ackLine.service, 'dhcp');
    assert.equal(ackLine.mac, '52:54:00:00:00:01');
    assert.equal(ackLine.xid, '0x00001001');
    assert.equal(ackLine.ip, '127.0.0.100');
    assert.equal(ackLine.file, 'undionly.kpxe');
    assert.equal(ackLine.vendorClass, PXE.vendorClass);
    assert.deepEqual(h.refused, []);
  });

  it('keeps serving after 1000 garbage packets', async () => {
    const h = await harness();
    const random = seededRandom(0x9a5b);
    for (let i = 0; i < 1000; i++) {
      let bytes: Uint8Array;
      if (i % 2 === 0) {
        bytes = randomBytes(random, randomInt(random, 600));
      } else {
        // Valid framing, random options: reaches past the header checks into option parsing.
        bytes = Uint8Array.from(ipxeBiosDiscover.subarray(0, 240));
        bytes = Uint8Array.from([...bytes, ...randomBytes(random, randomInt(random, 300))]);
      }
      if (bytes.length >= 240) {
        // ciaddr/giaddr zero: whatever decodes can only be answered on loopback.
        bytes.fill(0, 12, 16);
        bytes.fill(0, 24, 28);
      }
      await h.client.send(bytes, h.port.server);
      // Client and server share one event loop: let the server drain its socket now and then,
      // or the kernel drops datagrams once the receive buffer is full.
      if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const { ack } = await lease(h, '52:54:00:00:00:02', 0x2002);
    assert.match(ack, /^127\.0\.0\.1\d\d$/);
    const warnings = h.logger.lines.filter((l) => l.level === 'warn' && l.msg === 'dhcp packet dropped');
    assert.ok(warnings.length > 900, `only ${warnings.length} garbage packets logged as dropped`);
    assert.equal(typeof warnings[0]!.error, 'string');
    assert.match(String(warnings[0]!.peer), /^127\.0\.0\.1:\d+$/);
    assert.equal(h.logger.lines.filter((l) => l.level === 'error').length, 0, 'no handler failures');
    assert.deepEqual(h.refused, []);
  });

  it('persists leases: a new server instance on the same file gives the same address', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diskless-dhcp-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'leases.json');
    const first = await harness({ leaseStore: new LeaseStore({ path }) });
    assert.equal((await lease(first, '52:54:00:00:00:0b', 0x3001)).ack, '127.0.0.100');
    assert.equal((await lease(first, '52:54:00:00:00:0a', 0x3002)).ack, '127.0.0.101');
    await first.server.stop();

    const second = await harness({ leaseStore: new LeaseStore({ path }), client: first.client });
    // .100 is still bound to the other client, so only the reloaded lease explains .101.
    assert.equal((await lease(second, '52:54:00:00:00:0a', 0x3003)).offer, '127.0.0.101');
  });

  it('proxy mode: OFFER on the server port, ACK on the proxy port back to the sender', async () => {
    const h = await harness({ settings: { mode: 'proxy' } });
    assert.ok(h.port.proxy);
    const mac = '52:54:00:00:00:0c';
    await h.client.send(clientPacket({ type: DhcpMessageType.Discover, mac, xid: 0x4001, ...PXE }), h.port.server);
    const offer = await h.client.reply(0x4001);
    assert.equal(offer.yiaddr, '0.0.0.0');
    assert.equal(getOption(offer, DhcpOption.vendorClassIdentifier), 'PXEClient');
    await h.client.send(clientPacket({ type: DhcpMessageType.Request, mac, xid: 0x4002, ciaddr: '127.0.0.77', ...PXE }), h.port.proxy);
    // Reply goes to the sender's address and port, not to ciaddr:68.
    const ack = await h.client.reply(0x4002);
    assert.equal(getOption(ack, DhcpOption.messageType), DhcpMessageType.Ack);
    assert.equal(ack.file, 'undionly.kpxe');
    // Non-PXE clients get nothing.
    await h.client.send(clientPacket({ type: DhcpMessageType.Discover, mac, xid: 0x4003 }), h.port.server);
    assert.equal(await h.client.gotReply(0x4003, 300), false);
    assert.deepEqual(h.refused, []);
  });

  it('a throwing lookupNode hook does not stop the server', async () => {
    let calls = 0;
    const client = await TestDhcpClient.open();
    cleanups.push(() => client.close());
    const server = bootDhcpServer({
      settings: singleSubnet(settings(client.port)),
      lookupNode: () => {
        if (calls++ === 0) throw new Error('inventory unavailable');
        return undefined;
      },
      leaseStore: new LeaseStore(),
      createSocket: loopbackOnlySockets().create,
      broadcastTarget: '127.0.0.1',
    });
    await server.start();
    cleanups.push(() => server.stop());
    const port = server.boundPorts.server!;
    await client.send(clientPacket({ type: DhcpMessageType.Discover, mac: '52:54:00:00:00:0d', xid: 0x5001 }), port);
    assert.equal(await client.gotReply(0x5001, 300), false);
    await client.send(clientPacket({ type: DhcpMessageType.Discover, mac: '52:54:00:00:00:0d', xid: 0x5002 }), port);
    assert.equal((await client.reply(0x5002)).yiaddr, '127.0.0.100');
  });

  it('relayed requests: answered to the relay from its subnet, or not at all with a log line saying why', async () => {
    const client = await TestDhcpClient.open();
    cleanups.push(() => client.close());
    const sockets = loopbackOnlySockets();
    const logger = memoryLogger();
    const events: DhcpEvent[] = [];
    const own = settings(client.port, { name: '127.0.0.0/8' });
    const rack: DhcpSettings = {
      ...own, name: '10.2.0.0/24', network: '10.2.0.0', subnetMask: '255.255.255.0', attached: false,
      pool: { start: '10.2.0.100', end: '10.2.0.110' }, routers: ['10.2.0.1'],
    };
    const server = bootDhcpServer({
      settings: { subnets: [own, rack], interfaces: [], ports: own.ports },
      lookupNode: () => undefined,
      leaseStore: new LeaseStore(),
      logger,
      createSocket: sockets.create,
      onEvent: (e) => events.push(e),
      broadcastTarget: '127.0.0.1',
    });
    await server.start();
    cleanups.push(() => server.stop());
    const port = server.boundPorts.server!;
    const relayed = (giaddr: string, xid: number) => ({ ...clientPacket({ type: DhcpMessageType.Discover, mac: '52:54:00:00:00:0e', xid, giaddr, ...PXE }), hops: 1 });
    await client.send(relayed('10.9.0.1', 0x6001), port);
    await client.send(relayed('10.2.0.1', 0x6002), port);
    // Unrelayed on the one socket: the server's own subnet, as before.
    await client.send(clientPacket({ type: DhcpMessageType.Discover, mac: '52:54:00:00:00:0f', xid: 0x6003, ...PXE }), port);
    assert.equal((await client.reply(0x6003)).yiaddr, '127.0.0.100');
    const drop = logger.lines.find((l) => l.msg === 'dhcp drop' && l['xid'] === '0x00006001');
    assert.equal(drop?.level, 'info');
    assert.match(String(drop?.['reason']), /^no subnet for relay 10\.9\.0\.1: giaddr is in none of 127\.0\.0\.0\/8, 10\.2\.0\.0\/24$/);
    assert.equal(drop?.['giaddr'], '10.9.0.1');
    // The offer left for the relay (kept off the network by the test socket), from 10.2.0.0/24.
    assert.deepEqual(sockets.refused, ['10.2.0.1']);
    const offer = decodeDhcpPacket(sockets.refusedDatagrams[0]!.bytes);
    assert.ok(offer.ok);
    assert.deepEqual([offer.packet.xid, offer.packet.yiaddr, offer.packet.giaddr, offer.packet.hops], [0x6002, '10.2.0.100', '10.2.0.1', 0]);
    const offered = events.find((e) => e.type === 'offer' && e.xid === 0x6002);
    assert.deepEqual([offered?.subnet, offered?.giaddr, offered?.ip], ['10.2.0.0/24', '10.2.0.1', '10.2.0.100']);
  });

  it('refuses to start on an interface that does not exist', async () => {
    const server = bootDhcpServer({
      settings: singleSubnet(settings(68, { interfaceName: 'nosuchif0' })),
      lookupNode: () => undefined,
      leaseStore: new LeaseStore(),
    });
    await assert.rejects(server.start(), /Cannot bind DHCP to interface "nosuchif0": no such interface/);
  });
});
