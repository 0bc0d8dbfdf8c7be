// Nodes known by the switch port their DHCP relay reports (option 82), from a real config
// through the real responder: who is trusted to name a port, what a port names, and the echo.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.js';
import { BootDhcpResponder } from './responder.js';
import { LeaseStore } from './lease-store.js';
import { dhcpNodeLookup, dhcpSettingsFromConfig } from './settings-from-config.js';
import { nodeByAddress, nodeKey } from '../boot/boot-target.js';
import { decodeDhcpPacket, encodeDhcpPacket, type DhcpPacket } from '../protocols/dhcp/packet.js';
import { relayedIpxeDiscover, RELAYED_MAC } from '../protocols/dhcp/testdata/relayed-discover.js';
import { clientPacket } from '../protocols/dhcp/testdata/client-packets.js';
import { DhcpMessageType } from '../protocols/dhcp/message-types.js';
import { getOption } from '../protocols/dhcp/option-spec.js';
import { DhcpOption } from '../protocols/dhcp/dhcp-options.js';
import { OptionCode } from '../protocols/dhcp/option-codes.js';
import type { DhcpArrival } from '../protocols/dhcp/server.js';
import type { SwitchPort } from '../net/switch-port.js';

const PORTS = { server: 67, client: 68, proxy: 4011 };
const CONFIG = `server:
  address: 10.1.0.1
  interface: up0
dhcp:
  mode: full
  unknown_clients: deny
  subnets:
    - network: 10.1.0.0/24
      interface: up0
      pool: 10.1.0.100-10.1.0.150
    - network: 10.2.0.0/24
      pool: 10.2.0.100-10.2.0.150
      routers: [10.2.0.1]
    - network: 10.4.0.0/24
      pool: 10.4.0.100-10.4.0.150
profiles:
  default: { kernel: /k }
nodes:
  - hostname: r2n1
    switch_port: { circuit_id: rack1 }
    address: 10.2.0.41
`;

/** From the relay's server port, heard on the server's own link. */
const FROM_RELAY: DhcpArrival = { port: 'server', interface: 'up0', peer: { address: '10.1.0.254', port: 67 } };

function setup(recorded: Map<string, SwitchPort> = new Map()) {
  const cfg = parseConfig(CONFIG, '/x/d.yaml');
  const r = new BootDhcpResponder({
    settings: dhcpSettingsFromConfig(cfg, PORTS),
    lookupNode: dhcpNodeLookup(() => cfg, (mac) => recorded.get(mac)),
    reservedBy: (ip) => {
      const n = nodeByAddress(cfg, ip);
      return n && nodeKey(n);
    },
    leaseStore: new LeaseStore(),
  });
  return { r, cfg };
}

function golden(edit: (p: DhcpPacket) => void = () => {}): DhcpPacket {
  const d = decodeDhcpPacket(relayedIpxeDiscover);
  assert.ok(d.ok);
  edit(d.packet);
  return d.packet;
}

const circuit = (id: string) => Buffer.from([1, id.length, ...Buffer.from(id)]);

it('a machine whose MAC no node lists is the node on its port: that node\'s address, name and key, option 82 echoed last', async () => {
  const { r } = setup();
  const a = await r.answer(golden(), FROM_RELAY);
  assert.ok(a.reply, a.reason);
  assert.equal(a.reply.yiaddr, '10.2.0.41');
  assert.equal(a.reason, 'offer 10.2.0.41 (reservation), boot http://10.1.0.1/boot/52-54-00-12-34-56.ipxe');
  assert.equal(getOption(a.reply, DhcpOption.hostName), 'r2n1');
  assert.deepEqual(a.agent, { circuitId: 'rack1', trusted: true });
  assert.equal(a.node, 'host:r2n1');
  const bytes = encodeDhcpPacket(a.reply);
  const echo = Buffer.from([82, 7, ...circuit('rack1'), 0xff]);
  assert.deepEqual(bytes.subarray(bytes.length - echo.length), echo, 'option 82 is the last option, byte for byte');
});

it('the same MAC on another port is not the node: unknown, and (unknown_clients: deny) unanswered', async () => {
  const { r } = setup();
  const a = await r.answer(golden((p) => p.options.set(OptionCode.RelayAgentInformation, circuit('rack9'))), FROM_RELAY);
  assert.equal(a.reply, undefined, a.reason);
  assert.deepEqual([a.agent, a.node], [{ circuitId: 'rack9', trusted: true }, undefined]);
});

it('a port is believed only from a relay (server port) of a subnet reached through relays', async () => {
  const { r } = setup();
  // A "relay" on the server's own link: anyone there can claim any port and hear the answer.
  const onLink = await r.answer(golden((p) => { p.giaddr = '10.1.0.254'; }), FROM_RELAY);
  assert.deepEqual([onLink.reply, onLink.agent, onLink.node], [undefined, { circuitId: 'rack1', trusted: false }, undefined]);
  // From an unprivileged port: not a relay agent.
  const fromUser = await r.answer(golden(), { ...FROM_RELAY, peer: { address: '10.1.0.254', port: 40000 } });
  assert.deepEqual([fromUser.reply, fromUser.agent?.trusted, fromUser.node], [undefined, false, undefined]);
});

it('option 82 a client put into an unrelayed request is neither believed nor echoed', async () => {
  const cfg = setup();
  const p = clientPacket({ type: DhcpMessageType.Discover, mac: RELAYED_MAC, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0 });
  p.options.set(OptionCode.RelayAgentInformation, circuit('rack1'));
  const a = await cfg.r.answer(p, { port: 'server', interface: 'up0', peer: { address: '0.0.0.0', port: 68 } });
  assert.deepEqual([a.reply, a.agent, a.node], [undefined, undefined, undefined], a.reason);
});

it('a renewal sent straight to the server (no relay, no option 82) is the node by the port last recorded for the machine', async () => {
  const renew = () => clientPacket({ type: DhcpMessageType.Request, mac: RELAYED_MAC, ciaddr: '10.2.0.41' });
  const direct: DhcpArrival = { port: 'server', interface: 'up0', peer: { address: '10.2.0.41', port: 68 } };
  const unrecorded = await setup().r.answer(renew(), direct);
  assert.equal(unrecorded.node, undefined, 'no port recorded: an unknown machine');
  const a = await setup(new Map([[RELAYED_MAC, { circuitId: 'rack1' }]])).r.answer(renew(), direct);
  assert.ok(a.reply, a.reason);
  assert.equal(getOption(a.reply, DhcpOption.messageType), DhcpMessageType.Ack);
  assert.deepEqual([a.reply.yiaddr, a.node, a.reply.options.has(OptionCode.RelayAgentInformation)], ['10.2.0.41', 'host:r2n1', false]);
});
