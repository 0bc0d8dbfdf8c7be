import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { loopbackSettings } from '../protocols/dhcp/testdata/loopback-settings.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DhcpEvent, DhcpServer } from '../protocols/dhcp/server.js';
import { bootDhcpServer } from './responder.js';
import { type DhcpSettings, singleSubnet } from './settings.js';
import { LeaseStore } from './lease-store.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { DhcpMessageType } from '../protocols/dhcp/message-types.js';
import { DhcpOption } from '../protocols/dhcp/dhcp-options.js';
import { getOption } from '../protocols/dhcp/option-spec.js';
import { clientPacket } from '../protocols/dhcp/testdata/client-packets.js';
import { loopbackOnlySockets } from '../protocols/dhcp/testdata/loopback-socket.js';
import { TestDhcpClient } from '../protocols/dhcp/testdata/test-client.js';

const SERVER = '127.0.0.1';
const PXE = { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0 };

const settings = (clientPort: number): DhcpSettings =>
  loopbackSettings(clientPort, { serverAddress: SERVER, pool: { start: '127.0.0.100', end: '127.0.0.250' }, routers: [], dnsServers: [] });

const macOf = (i: number): string => `52:54:00:00:02:${i.toString(16).padStart(2, '0')}`;

/** mac → ip of the bound leases in the file, read the moment it is called. */
function leasesOnDisk(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return new Map();
  }
  const file = JSON.parse(text) as { leases: Array<{ ip: string; mac: string; state: string }> };
  return new Map(file.leases.filter((l) => l.state === 'bound').map((l) => [l.mac, l.ip]));
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(writeFile: (path: string, data: string) => Promise<void>): Promise<{
  server: DhcpServer; client: TestDhcpClient; events: DhcpEvent[]; path: string; port: number; ackedNotOnDisk: string[];
}> {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-dhcp-commit-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'leases.json');
  const client = await TestDhcpClient.open();
  cleanups.push(() => client.close());
  const events: DhcpEvent[] = [];
  const ackedNotOnDisk: string[] = [];
  const server = bootDhcpServer({
    settings: singleSubnet(settings(client.port)),
    lookupNode: () => undefined,
    leaseStore: new LeaseStore({ path, writeFile }),
    createSocket: loopbackOnlySockets().create,
    broadcastTarget: '127.0.0.1',
    onEvent: (e) => {
      events.push(e);
      // The ACK event follows socket.send at once: the lease must be in the file by then.
      if (e.type === 'ack' && leasesOnDisk(path).get(e.mac) !== e.ip) ackedNotOnDisk.push(e.mac);
    },
  });
  await server.start();
  cleanups.push(() => server.stop());
  return { server, client, events, path, port: server.boundPorts.server!, ackedNotOnDisk };
}

describe('DhcpServer lease group commit', () => {
  it('100 concurrent REQUESTs: far fewer than 100 writes, and no ACK leaves before its lease is in the file', async () => {
    let writes = 0;
    const h = await start(async (path, data) => {
      writes++;
      await writeFileAtomic(path, data);
    });
    const clients = Array.from({ length: 100 }, (_, k) => ({ mac: macOf(k + 1), xid: 0x7000 + k }));
    await Promise.all(clients.map((c) => h.client.send(clientPacket({ type: DhcpMessageType.Discover, mac: c.mac, xid: c.xid, ...PXE }), h.port)));
    const offers = await Promise.all(clients.map((c) => h.client.reply(c.xid, 5000)));
    assert.equal(writes, 0, 'offers are not written');

    await Promise.all(clients.map((c, k) => h.client.send(clientPacket({
      type: DhcpMessageType.Request, mac: c.mac, xid: c.xid, serverId: SERVER, requestedIp: offers[k]!.yiaddr, ...PXE,
    }), h.port)));
    const acks = await Promise.all(clients.map((c) => h.client.reply(c.xid, 5000)));
    for (const ack of acks) assert.equal(getOption(ack, DhcpOption.messageType), DhcpMessageType.Ack);
    console.log(`dhcp group commit: ${writes} lease writes for 100 ACKs`);
    assert.ok(writes <= 20, `${writes} writes for 100 ACKs`);
    assert.deepEqual(h.ackedNotOnDisk, [], 'ACKs sent before their lease was on disk');
    const onDisk = leasesOnDisk(h.path);
    for (const [k, c] of clients.entries()) assert.equal(onDisk.get(c.mac), acks[k]!.yiaddr);
  });

  it('a failed lease write withholds the ACK; the retransmitted REQUEST writes again and is acknowledged', async () => {
    let fail = true;
    const h = await start(async (path, data) => {
      if (fail) throw new Error('EIO: i/o error');
      await writeFileAtomic(path, data);
    });
    const mac = macOf(0xf0);
    await h.client.send(clientPacket({ type: DhcpMessageType.Discover, mac, xid: 0x7f00, ...PXE }), h.port);
    const offer = await h.client.reply(0x7f00);
    const request = clientPacket({ type: DhcpMessageType.Request, mac, xid: 0x7f01, serverId: SERVER, requestedIp: offer.yiaddr, ...PXE });
    await h.client.send(request, h.port);
    assert.equal(await h.client.gotReply(0x7f01, 300), false, 'no ACK for a lease that is not on disk');
    const drop = h.events.find((e) => e.type === 'drop');
    assert.match(drop?.reason ?? '', /^lease not saved: EIO/);
    assert.equal(h.events.some((e) => e.type === 'ack'), false);

    fail = false;
    await h.client.send(request, h.port); // the client's retransmission
    const ack = await h.client.reply(0x7f01);
    assert.equal(getOption(ack, DhcpOption.messageType), DhcpMessageType.Ack);
    assert.equal(ack.yiaddr, offer.yiaddr);
    assert.deepEqual(h.ackedNotOnDisk, []);
    assert.equal(leasesOnDisk(h.path).get(mac), offer.yiaddr);
  });
});
