import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.js';
import { bootDhcpServer } from '../dhcp/responder.js';
import { LeaseStore } from '../dhcp/lease-store.js';
import { DhcpMessageType } from '../protocols/dhcp/message-types.js';
import { clientPacket } from '../protocols/dhcp/testdata/client-packets.js';
import { loopbackOnlySockets } from '../protocols/dhcp/testdata/loopback-socket.js';
import { TestDhcpClient } from '../protocols/dhcp/testdata/test-client.js';
import { readDiscovered, discoveredPath } from '../inventory/discovered.js';
import { dhcpNodeLookup, dhcpSettingsFromConfig } from '../dhcp/settings-from-config.js';
import { startDiscovery } from './discovery.js';
import { nullLogger } from '../log/logger.js';

const KNOWN = '52:54:00:00:00:01';
const STRANGER = '02:00:00:00:00:99';
const LAPTOP = '02:00:00:00:00:42';

async function serve(t: { after(fn: () => Promise<void>): void }, mode: 'full' | 'proxy', unknown: 'deny' | 'register') {
  const dir = await mkdtemp(join(tmpdir(), 'dl-discovery-'));
  const config = parseConfig(`server: { address: 127.0.0.1, state_dir: ${dir} }
dhcp: { mode: ${mode}, pool: 127.0.0.100-127.0.0.110, subnet_mask: 255.0.0.0, unknown_clients: ${unknown} }
profiles: { default: { kernel: /k } }
nodes: [{ mac: "${KNOWN}" }]
`, join(dir, 'diskless.yaml'));
  const client = await TestDhcpClient.open();
  const discovery = await startDiscovery(config, nullLogger);
  const server = bootDhcpServer({
    settings: dhcpSettingsFromConfig(config, { server: 0, client: client.port, proxy: 0 }),
    lookupNode: dhcpNodeLookup(() => config),
    leaseStore: new LeaseStore(),
    createSocket: loopbackOnlySockets().create,
    broadcastTarget: '127.0.0.1',
    onUnknownClient: discovery.onDhcp,
  });
  await server.start();
  t.after(async () => {
    await server.stop();
    await client.close();
    await discovery.close();
    await rm(dir, { recursive: true, force: true });
  });
  const send = (mac: string, fields: object = {}) =>
    client.send(clientPacket({ type: DhcpMessageType.Discover, mac, xid: 0x77, ...fields }), server.boundPorts.server!);
  return { client, discovery, send, file: discoveredPath(dir) };
}

test('a denied unknown PXE client is recorded with its options; a known node is not', async (t) => {
  const s = await serve(t, 'full', 'deny');
  await s.send(STRANGER, { vendorClass: 'PXEClient:Arch:00007:UNDI:003016', arch: 7, userClass: 'iPXE' });
  await s.send(KNOWN, { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0 });
  assert.equal(await s.client.gotReply(0x77, 300), true, 'the known node is answered');
  await s.discovery.close();
  const [m, ...rest] = await readDiscovered(s.file);
  assert.deepEqual(rest, []);
  assert.equal(m?.mac, STRANGER);
  assert.equal(m?.arch, 'EfiX64');
  assert.equal(m?.vendorClass, 'PXEClient:Arch:00007:UNDI:003016');
  assert.equal(m?.userClass, 'iPXE');
  assert.equal(m?.count, 1);
});

test('in proxy mode only machines trying to network-boot are recorded', async (t) => {
  const s = await serve(t, 'proxy', 'register');
  await s.send(LAPTOP, { vendorClass: 'MSFT 5.0' });
  await s.send(STRANGER, { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0 });
  assert.equal(await s.client.gotReply(0x77, 500), true, 'the registered PXE client gets a proxy offer');
  await s.discovery.close();
  assert.deepEqual((await readDiscovered(s.file)).map((m) => [m.mac, m.arch]), [[STRANGER, 'BiosX86']]);
});
