import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loopbackSettings } from '../protocols/dhcp/testdata/loopback-settings.js';
import type { DhcpEvent } from '../protocols/dhcp/server.js';
import { bootDhcpServer } from './responder.js';
import { type DhcpSettings, singleSubnet } from './settings.js';
import { LeaseStore } from './lease-store.js';
import { DhcpMessageType } from '../protocols/dhcp/message-types.js';
import { DhcpOption } from '../protocols/dhcp/dhcp-options.js';
import { getOption } from '../protocols/dhcp/option-spec.js';
import { decodeDhcpPacket, MAX_DHCP_PACKET_BYTES } from '../protocols/dhcp/packet.js';
import { clientPacket } from '../protocols/dhcp/testdata/client-packets.js';
import { loopbackOnlySockets } from '../protocols/dhcp/testdata/loopback-socket.js';
import { TestDhcpClient } from '../protocols/dhcp/testdata/test-client.js';
import { ipxeBiosDiscover } from '../protocols/dhcp/testdata/ipxe-bios-discover.js';
import { ovmfPxeDiscover } from '../protocols/dhcp/testdata/ovmf-pxe-discover.js';
import { countingLogger } from '../testing/counting-logger.js';
import { floodUdp } from '../testing/udp-flood.js';
import { canCollectGarbage, MiB, settledHeapUsed } from '../testing/heap.js';
import { randomBytes, randomInt, seededRandom } from '../testing/seeded-random.js';

const SEED = 0xf100d0d;
const FLOOD = 100_000;
const PXE = { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0 };

const settings = (clientPort: number): DhcpSettings => loopbackSettings(clientPort);

/**
 * A datagram the decoder must refuse: random noise, a truncated header, an oversized packet,
 * or a golden DISCOVER with its options mangled. Mutants that still decode get their magic
 * cookie broken, so every datagram takes the "dropped" path and can be counted there.
 */
function malformed(random: () => number): Uint8Array {
  const golden = random() < 0.5 ? ipxeBiosDiscover : ovmfPxeDiscover;
  switch (randomInt(random, 8)) {
    case 0: return randomBytes(random, randomInt(random, 600));
    case 1: return golden.slice(0, randomInt(random, 240));
    case 2: return randomBytes(random, MAX_DHCP_PACKET_BYTES + 1 + randomInt(random, 4000));
    default: {
      const bytes = Uint8Array.from(golden);
      for (let e = 1 + randomInt(random, 6); e > 0; e--) {
        // Lengths and codes in the options area are where parsers overrun.
        const at = 240 + randomInt(random, bytes.length - 240);
        bytes[at] = random() < 0.5 ? [0, 1, 52, 53, 255, 0xff][randomInt(random, 6)]! : randomInt(random, 256);
      }
      const cut = random() < 0.3 ? bytes.subarray(0, 240 + randomInt(random, bytes.length - 240)) : bytes;
      if (decodeDhcpPacket(cut).ok) cut[236] = cut[236]! ^ 0xff;
      return cut;
    }
  }
}

test(`${FLOOD} malformed datagrams at the live DhcpServer: no crash, no leak, a DISCOVER still gets an OFFER (seed ${SEED.toString(16)})`, async () => {
  const client = await TestDhcpClient.open();
  const sockets = loopbackOnlySockets();
  const logger = countingLogger();
  const events: DhcpEvent[] = [];
  const server = bootDhcpServer({
    settings: singleSubnet(settings(client.port)),
    lookupNode: () => undefined,
    leaseStore: new LeaseStore(),
    logger,
    createSocket: sockets.create,
    onEvent: (e) => events.push(e),
    broadcastTarget: '127.0.0.1',
  });
  await server.start();
  const port = server.boundPorts.server!;
  const dropped = (): number => logger.count('dhcp packet dropped', 'warn');
  const discoverGetsOffer = async (xid: number): Promise<void> => {
    await client.send(clientPacket({ type: DhcpMessageType.Discover, mac: '52:54:00:00:f1:00', xid, ...PXE }), port);
    const offer = await client.reply(xid);
    assert.equal(getOption(offer, DhcpOption.messageType), DhcpMessageType.Offer);
    assert.equal(offer.yiaddr, '127.0.0.100');
  };
  try {
    const random = seededRandom(SEED);
    // Warm-up: JIT, socket buffers and logger maps reach their steady size before the baseline.
    await floodUdp({ port, count: 2000, packet: () => malformed(random), seen: dropped });
    await discoverGetsOffer(0xf100);
    const baseline = await settledHeapUsed();

    const r = await floodUdp({ port, count: FLOOD, packet: () => malformed(random), seen: dropped });
    console.log(`dhcp flood: ${r.seen}/${r.sent} seen by the server in ${r.ms} ms`);
    assert.ok(r.seen >= FLOOD * 0.99, `seed ${SEED.toString(16)}: the server saw only ${r.seen} of ${FLOOD}`);
    assert.equal(r.replies, 0, 'nothing malformed is answered');
    assert.equal(logger.total('error'), 0, 'no handler failures');
    assert.equal(events.length, 2, 'only the warm-up DISCOVER and its OFFER were events');
    assert.deepEqual(sockets.refused, []);

    await discoverGetsOffer(0xf101);
    const after = await settledHeapUsed();
    const margin = canCollectGarbage ? 8 * MiB : 48 * MiB;
    console.log(`dhcp flood: heap ${((after - baseline) / MiB).toFixed(2)} MiB over baseline (gc: ${canCollectGarbage})`);
    assert.ok(after - baseline < margin, `heap grew ${((after - baseline) / MiB).toFixed(1)} MiB over the flood`);
  } finally {
    await server.stop();
    client.close();
  }
});
