import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { postgresFixture } from '../testing/postgres-fixture.js';
import type { PostgresStateConfig } from '../config/types.js';
import { Database } from './database.js';
import { PgLeaseTable } from './lease-table.js';
import { ServerRegistry } from './servers.js';
import { bootDhcpServer } from '../dhcp/responder.js';
import { PoolCursor } from '../dhcp/address-choice.js';
import { singleSubnet } from '../dhcp/settings.js';
import type { DhcpServer } from '../protocols/dhcp/server.js';
import { loopbackSettings } from '../protocols/dhcp/testdata/loopback-settings.js';
import { loopbackOnlySockets } from '../protocols/dhcp/testdata/loopback-socket.js';
import { TestDhcpClient } from '../protocols/dhcp/testdata/test-client.js';
import { clientPacket } from '../protocols/dhcp/testdata/client-packets.js';
import { DhcpMessageType } from '../protocols/dhcp/message-types.js';
import { DhcpOption } from '../protocols/dhcp/dhcp-options.js';
import { getOption } from '../protocols/dhcp/option-spec.js';
import type { DhcpPacket } from '../protocols/dhcp/packet.js';
import { parseIpv4 } from '../net/ipv4.js';
import { waitUntil } from '../testing/wait-until.js';

const pg = postgresFixture();
const PXE = { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0 };
const POOL = { start: '127.0.0.100', end: '127.0.0.199' };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Server {
  address: string;
  port: number;
  db: Database;
  leases: PgLeaseTable;
  registry: ServerRegistry;
  dhcp: DhcpServer;
  stop(): Promise<void>;
}

/** One boot server's DHCP over the shared database, as startServices wires it. */
async function server(cfg: PostgresStateConfig, client: TestDhcpClient, address: string, cursorAt?: string, subnet?: { serverAddress: string }, offlineGraceMs?: number): Promise<Server> {
  const db = await Database.open(cfg);
  const leases = await PgLeaseTable.open(db, { server: address, ...(offlineGraceMs === undefined ? {} : { offlineGraceMs }) });
  const addresses = [address, ...(subnet ? [subnet.serverAddress] : [])];
  const registry = await ServerRegistry.start(db, { address, addresses, bootUrl: `http://${address}/`, heartbeatMs: 100, goneAfterMs: 1000 });
  const cursor = new PoolCursor();
  if (cursorAt !== undefined) cursor.next = parseIpv4(cursorAt);
  const dhcp = bootDhcpServer({
    settings: singleSubnet(loopbackSettings(client.port, { serverAddress: subnet?.serverAddress ?? address, pool: POOL })),
    lookupNode: () => undefined,
    leaseStore: leases,
    peerIsGone: (id) => registry.isGone(id),
    poolCursor: () => cursor,
    createSocket: loopbackOnlySockets().create,
    broadcastTarget: '127.0.0.1',
  });
  await dhcp.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await dhcp.stop();
    await registry.stop();
    leases.close();
    await db.close();
  };
  cleanups.push(stop);
  return { address, port: dhcp.boundPorts.server!, db, leases, registry, dhcp, stop };
}

async function clientOn(address = '127.0.0.1'): Promise<TestDhcpClient> {
  const c = await TestDhcpClient.open(address);
  cleanups.push(() => c.close());
  return c;
}

const mac = (i: number) => `52:54:00:15:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
const type = (p: DhcpPacket) => getOption(p, DhcpOption.messageType);
const serverIdOf = (p: DhcpPacket) => getOption(p, DhcpOption.serverIdentifier);

/** Every reply with this xid that arrives within `ms` (both servers may answer one broadcast). */
async function replies(client: TestDhcpClient, xid: number, count: number, ms = 3000): Promise<DhcpPacket[]> {
  const out: DhcpPacket[] = [];
  for (let i = 0; i < count; i++) {
    try {
      out.push(await client.reply(xid, i === 0 ? ms : 300));
    } catch {
      break;
    }
  }
  return out;
}

describe('DHCP across servers sharing one database (two DhcpServers, real packets on loopback)', () => {
  it('clients broadcasting to both servers at once: every client bound, no address offered or bound to two clients', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const client = await clientOn();
    // Both scans start at the same address: every offer is a race the database decides.
    const a = await server(cfg, client, '127.0.0.1');
    const b = await server(cfg, client, '127.0.0.2');
    const N = 40;
    const offeredTo = new Map<string, Set<string>>();
    const ackedTo = new Map<string, string>();
    // Every DISCOVER goes to both servers in the same instant, as a broadcast would.
    await Promise.all(Array.from({ length: N }, async (_, i) => {
      const xid = 0x1500_0000 + i;
      await Promise.all([a, b].map((s) => client.send(clientPacket({ type: DhcpMessageType.Discover, mac: mac(i), xid, ...PXE }), s.port)));
    }));
    const chosen = new Map<number, DhcpPacket>();
    for (let i = 0; i < N; i++) {
      const xid = 0x1500_0000 + i;
      const offers = await replies(client, xid, 2);
      assert.ok(offers.length >= 1, `client ${i} got no offer`);
      for (const o of offers) {
        assert.equal(type(o), DhcpMessageType.Offer);
        let macs = offeredTo.get(o.yiaddr);
        if (!macs) offeredTo.set(o.yiaddr, (macs = new Set()));
        macs.add(mac(i));
      }
      chosen.set(i, offers[0]!);
    }
    for (const [ip, macs] of offeredTo) assert.equal(macs.size, 1, `${ip} offered to ${[...macs].join(', ')}`);
    // Each client REQUESTs its first offer, naming that server, sent to both.
    await Promise.all([...chosen].map(async ([i, offer]) => {
      const xid = 0x1500_0000 + i;
      const req = clientPacket({ type: DhcpMessageType.Request, mac: mac(i), xid, serverId: serverIdOf(offer)!, requestedIp: offer.yiaddr, ...PXE });
      await Promise.all([a, b].map((s) => client.send(req, s.port)));
    }));
    for (let i = 0; i < N; i++) {
      const all = await replies(client, 0x1500_0000 + i, 3, 3000);
      // The slower server's OFFER may arrive only now (same xid): it still must be this client's address.
      for (const late of all.filter((p) => type(p) === DhcpMessageType.Offer)) offeredTo.get(late.yiaddr)?.add(mac(i)) ?? offeredTo.set(late.yiaddr, new Set([mac(i)]));
      const got = all.filter((p) => type(p) !== DhcpMessageType.Offer);
      assert.equal(got.length, 1, `client ${i}: only the server it named answers its REQUEST`);
      const ack = got[0]!;
      assert.equal(type(ack), DhcpMessageType.Ack, `client ${i}: ${getOption(ack, DhcpOption.message) ?? ''}`);
      assert.equal(serverIdOf(ack), serverIdOf(chosen.get(i)!));
      assert.equal(ackedTo.get(ack.yiaddr), undefined, `${ack.yiaddr} ACKed to ${ackedTo.get(ack.yiaddr)} and ${mac(i)}`);
      ackedTo.set(ack.yiaddr, mac(i));
    }
    assert.equal(ackedTo.size, N);
    for (const [ip, macs] of offeredTo) assert.equal(macs.size, 1, `${ip} offered to ${[...macs].join(', ')}`);
    const rows = await cluster.sql(cfg.database, `SELECT ip, mac FROM dhcp_leases WHERE state = 'bound'`);
    assert.equal(rows.length, N);
    assert.deepEqual(new Map(rows.map((r) => [r.ip as string, r.mac as string])), ackedTo);
    // Both servers' copies agree with the database.
    await waitUntil('both copies to hold every binding', () => [a, b].every((s) => [...ackedTo].every(([ip, m]) => s.leases.isHeldBy(ip, m))));
  });

  it('a REQUEST naming a live peer is left to it; once the peer is gone it is answered, and the peer\'s leases stay valid', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const client = await clientOn('0.0.0.0');
    const a = await server(cfg, client, '127.0.0.1');
    const b = await server(cfg, client, '127.0.0.2', '127.0.0.150');
    // Bound through A.
    const m1 = mac(0x101);
    await client.send(clientPacket({ type: DhcpMessageType.Discover, mac: m1, xid: 0x2001, ...PXE }), a.port);
    const offer = await client.reply(0x2001);
    await client.send(clientPacket({ type: DhcpMessageType.Request, mac: m1, xid: 0x2002, serverId: a.address, requestedIp: offer.yiaddr, ...PXE }), a.port);
    assert.equal(type(await client.reply(0x2002)), DhcpMessageType.Ack);
    // Another client's SELECTING REQUEST naming A reaches B while A lives: B stays silent.
    const m2 = mac(0x102);
    await client.send(clientPacket({ type: DhcpMessageType.Discover, mac: m2, xid: 0x2003, ...PXE }), a.port);
    const offer2 = await client.reply(0x2003);
    const select2 = clientPacket({ type: DhcpMessageType.Request, mac: m2, xid: 0x2004, serverId: a.address, requestedIp: offer2.yiaddr, ...PXE });
    await waitUntil('B to have heard A\'s offer', () => b.leases.isHeldBy(offer2.yiaddr, m2));
    await client.send(select2, b.port);
    assert.equal(await client.gotReply(0x2004, 500), false, 'B answered a REQUEST meant for live A');

    await a.stop();
    await b.registry.beat();
    assert.equal(b.registry.isGone(a.address), true);
    // The same REQUEST again: A is gone, B answers it from the shared table.
    await client.send({ ...select2, xid: 0x2005 }, b.port);
    const ack2 = await client.reply(0x2005);
    assert.equal(type(ack2), DhcpMessageType.Ack);
    assert.equal(ack2.yiaddr, offer2.yiaddr);
    assert.equal(serverIdOf(ack2), b.address);
    // A's client rebinds (broadcast, ciaddr, no server identifier): B renews its address.
    await client.send(clientPacket({ type: DhcpMessageType.Request, mac: m1, xid: 0x2006, ciaddr: offer.yiaddr, ...PXE }), b.port);
    const rebound = await client.reply(0x2006);
    assert.equal(type(rebound), DhcpMessageType.Ack);
    assert.equal(rebound.yiaddr, offer.yiaddr);
    // A new client through B gets neither address.
    await client.send(clientPacket({ type: DhcpMessageType.Discover, mac: mac(0x103), xid: 0x2007, requestedIp: offer.yiaddr, ...PXE }), b.port);
    const offer3 = await client.reply(0x2007);
    assert.notEqual(offer3.yiaddr, offer.yiaddr);
    assert.notEqual(offer3.yiaddr, offer2.yiaddr);
  });

  it("a gone peer's clients are taken over when they name its subnet's server_address, not only its server.address", async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const client = await clientOn('0.0.0.0');
    // A's server.address is 127.0.0.1; the subnet its clients are in is served as 127.0.0.3.
    const a = await server(cfg, client, '127.0.0.1', undefined, { serverAddress: '127.0.0.3' });
    const b = await server(cfg, client, '127.0.0.2', '127.0.0.150');
    const m = mac(0x111);
    await client.send(clientPacket({ type: DhcpMessageType.Discover, mac: m, xid: 0x2101, ...PXE }), a.port);
    const offer = await client.reply(0x2101);
    assert.equal(serverIdOf(offer), '127.0.0.3');
    const select = clientPacket({ type: DhcpMessageType.Request, mac: m, xid: 0x2102, serverId: '127.0.0.3', requestedIp: offer.yiaddr, ...PXE });
    await waitUntil('B to have heard A\'s offer', () => b.leases.isHeldBy(offer.yiaddr, m));
    assert.equal(b.registry.isGone('127.0.0.3'), false);
    await client.send(select, b.port);
    assert.equal(await client.gotReply(0x2102, 500), false, 'B answered a REQUEST meant for live A');
    await a.stop();
    await b.registry.beat();
    assert.equal(b.registry.isGone('127.0.0.3'), true, "A's subnet address is A's, and A is gone");
    assert.equal(b.registry.isGone('127.0.0.9'), false, 'an address no server has is nobody that died');
    await client.send({ ...select, xid: 0x2103 }, b.port);
    const ack = await client.reply(0x2103);
    assert.equal(type(ack), DhcpMessageType.Ack);
    assert.equal(ack.yiaddr, offer.yiaddr);
    assert.equal(serverIdOf(ack), b.address);
  });

  it('within offline_grace a client keeps the address the database gave it (ACKed, offered again) and nothing else is handed out; the renewals are written when the database returns', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    // Any address: the renewal's ACK goes to the client's address (ciaddr).
    const client = await clientOn('0.0.0.0');
    const a = await server(cfg, client, '127.0.0.1', undefined, undefined, 60_000);
    const m1 = mac(0x301);
    await client.send(clientPacket({ type: DhcpMessageType.Discover, mac: m1, xid: 0x4001, ...PXE }), a.port);
    const offer = await client.reply(0x4001);
    await client.send(clientPacket({ type: DhcpMessageType.Request, mac: m1, xid: 0x4002, serverId: a.address, requestedIp: offer.yiaddr, ...PXE }), a.port);
    assert.equal(type(await client.reply(0x4002)), DhcpMessageType.Ack);
    const [before] = await cluster.sql(cfg.database, `SELECT expires_at FROM dhcp_leases WHERE mac = '${m1}'`);
    await cluster.stopServer();
    try {
      // Renewing (ciaddr): ACKed from the copy.
      await client.send(clientPacket({ type: DhcpMessageType.Request, mac: m1, xid: 0x4003, ciaddr: offer.yiaddr, ...PXE }), a.port);
      const renewed = await client.reply(0x4003);
      assert.equal(type(renewed), DhcpMessageType.Ack);
      assert.equal(renewed.yiaddr, offer.yiaddr);
      // Rebooting (DISCOVER): offered its own address again.
      await client.send(clientPacket({ type: DhcpMessageType.Discover, mac: m1, xid: 0x4004, ...PXE }), a.port);
      assert.equal((await client.reply(0x4004)).yiaddr, offer.yiaddr);
      // A client the database never gave an address gets nothing.
      await client.send(clientPacket({ type: DhcpMessageType.Discover, mac: mac(0x302), xid: 0x4005, ...PXE }), a.port);
      assert.equal(await client.gotReply(0x4005, 1500), false, 'a new address was offered without the database');
    } finally {
      await cluster.startServer();
    }
    await waitUntil('the listening connection to come back', () => a.db.listening, 30_000);
    let after: unknown;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      [after] = (await cluster.sql(cfg.database, `SELECT expires_at FROM dhcp_leases WHERE mac = '${m1}'`)).map((r) => r.expires_at);
      if (Number(after) > Number(before!.expires_at)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(Number(after) > Number(before!.expires_at), 'the renewal made without the database was written when it returned');
  });

  it('without the database no address is handed out; when it returns the servers go on by themselves', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    const client = await clientOn();
    const a = await server(cfg, client, '127.0.0.1');
    await cluster.stopServer();
    try {
      await client.send(clientPacket({ type: DhcpMessageType.Discover, mac: mac(0x201), xid: 0x3001, ...PXE }), a.port);
      assert.equal(await client.gotReply(0x3001, 1500), false, 'an address was offered that the database never saw');
    } finally {
      await cluster.startServer();
    }
    // The client retransmits; the pool reconnects.
    let offer: DhcpPacket | undefined;
    for (let xid = 0x3002; offer === undefined && xid < 0x3030; xid++) {
      await client.send(clientPacket({ type: DhcpMessageType.Discover, mac: mac(0x201), xid, ...PXE }), a.port);
      offer = await client.reply(xid, 1000).catch(() => undefined);
    }
    assert.ok(offer, 'no offer after the database came back');
    const rows = await cluster.sql(cfg.database, 'SELECT ip, mac, state FROM dhcp_leases');
    assert.deepEqual(rows, [{ ip: offer.yiaddr, mac: mac(0x201), state: 'offered' }]);
    await waitUntil('the listening connection to come back', () => a.db.listening, 30_000);
  });
  it('the database restarted while two servers serve clients: no address handed out twice, every exchange in flight completes by retrying, bound clients renew within offline_grace, the servers reconnect by themselves', async () => {
    const cluster = await pg.cluster();
    const cfg = await cluster.database();
    // Any address: a renewal's ACK goes to the client's address (ciaddr).
    const client = await clientOn('0.0.0.0');
    const a = await server(cfg, client, '127.0.0.1', undefined, undefined, 60_000);
    const b = await server(cfg, client, '127.0.0.2', '127.0.0.150', undefined, 60_000);
    const servers = [a, b];
    // Every ACK and OFFER seen in the packets: no address may go to two clients.
    const ackedTo = new Map<string, string>();
    const offeredTo = new Map<string, Set<string>>();
    let down = false;
    const offeredWhileDown: string[] = [];
    const seen = (p: DhcpPacket, m: string) => {
      if (down && type(p) === DhcpMessageType.Offer && !bound.has(m)) offeredWhileDown.push(`${p.yiaddr} to ${m}`);
      if (type(p) === DhcpMessageType.Offer) (offeredTo.get(p.yiaddr) ?? offeredTo.set(p.yiaddr, new Set()).get(p.yiaddr)!).add(m);
      if (type(p) === DhcpMessageType.Ack) {
        const before = ackedTo.get(p.yiaddr);
        assert.ok(before === undefined || before === m, `${p.yiaddr} ACKed to ${before} and ${m}`);
        ackedTo.set(p.yiaddr, m);
      }
    };
    const bound = new Map<string, { ip: string; serverId: string }>();
    let xids = 0x5000_0000;
    /**
     * A client's DISCOVER/REQUEST, broadcast to both servers, as firmware does it: each step
     * retransmitted after a second without an answer, a NAK starting over, until bound.
     */
    const tries = new Map<string, number>();
    const bind = async (m: string, deadline: number): Promise<{ ip: string; serverId: string; attempts: number }> => {
      for (let attempts = 1; Date.now() < deadline; attempts++) {
        tries.set(m, attempts);
        const xid = xids++;
        await Promise.all(servers.map((s) => client.send(clientPacket({ type: DhcpMessageType.Discover, mac: m, xid, ...PXE }), s.port)));
        const offer = await client.reply(xid, 1000).catch(() => undefined);
        if (!offer) continue;
        seen(offer, m);
        const req = clientPacket({ type: DhcpMessageType.Request, mac: m, xid, serverId: serverIdOf(offer)!, requestedIp: offer.yiaddr, ...PXE });
        await Promise.all(servers.map((s) => client.send(req, s.port)));
        for (const until = Date.now() + 1000; Date.now() < until;) {
          const r = await client.reply(xid, Math.max(1, until - Date.now())).catch(() => undefined);
          if (!r) break;
          seen(r, m);
          if (type(r) === DhcpMessageType.Ack) return { ip: r.yiaddr, serverId: serverIdOf(r)!, attempts };
          if (type(r) === DhcpMessageType.Nak) break;
        }
      }
      throw new Error(`${m} not bound before the deadline`);
    };

    // Twenty clients bound before the restart.
    const first = Array.from({ length: 20 }, (_, i) => mac(0x500 + i));
    await Promise.all(first.map(async (m) => bound.set(m, await bind(m, Date.now() + 30_000))));

    // The database goes down (fast shutdown) while twenty new clients start, and stays down
    // until each of them has retransmitted (its first DISCOVER went unanswered) and every bound
    // client renewed.
    await cluster.stopServer();
    down = true;
    const second = Array.from({ length: 20 }, (_, i) => mac(0x600 + i));
    let restarted = false;
    const late = second.map((m) => bind(m, Date.now() + 60_000));
    try {
      // Within offline_grace: each bound client's renewal (ciaddr, unicast to its server) is ACKed
      // with its own address from the server's copy.
      for (const [m, l] of bound) {
        const xid = xids++;
        await client.send(clientPacket({ type: DhcpMessageType.Request, mac: m, xid, ciaddr: l.ip, ...PXE }), servers.find((s) => s.address === l.serverId)!.port);
        const r = await client.reply(xid, 3000);
        seen(r, m);
        assert.equal(type(r), DhcpMessageType.Ack, `${m}'s renewal while the database is down`);
        assert.equal(r.yiaddr, l.ip);
      }
      await waitUntil('every new client to retransmit, unanswered', () => second.every((m) => (tries.get(m) ?? 0) >= 2), 15_000);
    } finally {
      down = false;
      await cluster.startServer();
      restarted = true;
    }
    assert.ok(restarted);
    assert.deepEqual(offeredWhileDown, [], 'an address offered that the database could not claim');
    // Those in flight complete by retrying once the servers reconnected.
    const results = await Promise.all(late);
    for (const [i, m] of second.entries()) bound.set(m, results[i]!);

    // No address to two clients: in the packets (seen() asserted each ACK), in the offers, and in the database.
    for (const [ip, macs] of offeredTo) assert.equal(macs.size, 1, `${ip} offered to ${[...macs].join(', ')}`);
    assert.equal(new Set([...bound.values()].map((l) => l.ip)).size, 40, 'forty clients, forty addresses');
    const rows = await cluster.sql(cfg.database, `SELECT ip, mac FROM dhcp_leases WHERE state = 'bound'`);
    assert.deepEqual(new Map(rows.map((r) => [r.mac as string, r.ip as string])), new Map([...bound].map(([m, l]) => [m, l.ip])));
    // The servers reconnected by themselves: listening again, each seeing the other live.
    await waitUntil('both servers to listen again and see each other live', () =>
      servers.every((s) => s.db.listening && s.registry.list().filter((r) => r.health === 'live').length === 2), 30_000);
  });
});
