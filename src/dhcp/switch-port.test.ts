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
import { ascii, opt } from '../protocols/dhcp/testdata/fixture-bytes.js';

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
  - hostname: r2n2
    switch_port: { circuit_id: Gi1/0/7, remote_id: "0x525400aabbcc" }
    address: 10.2.0.42
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

/**
 * Option 82 as a switch sends it (three relays deep): circuit and remote id, link selection
 * (RFC 3527), vendor-specific (RFC 4243, enterprise 3561) and a sub-option nobody registered,
 * in that order. RFC 3046 §2.2: the server copies the whole option, as the last one, into every
 * reply; the relay reads its own sub-options back from it.
 */
const SWITCH_AGENT_INFO = Buffer.from([
  ...opt(1, ascii('Gi1/0/7')),                    // circuit id
  ...opt(2, [0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc]), // remote id: the switch's MAC
  ...opt(5, [10, 2, 0, 0]),                       // link selection: 10.2.0.0
  ...opt(9, [0x00, 0x00, 0x0d, 0xe9, 3, ...opt(1, [0x07])]), // vendor-specific, enterprise 3561
  ...opt(151, ascii('x')),                        // unregistered: kept all the same
]);

it('golden: every reply to a relayed request (OFFER, ACK, NAK) has hops 0, giaddr copied, and the relay\'s option 82 last and verbatim, every sub-option kept', async () => {
  const { r } = setup();
  const fromSwitch = (edit: (p: DhcpPacket) => void) => golden((p) => {
    p.hops = 3;
    p.options.set(OptionCode.RelayAgentInformation, SWITCH_AGENT_INFO);
    edit(p);
  });
  const tail = Buffer.from([82, SWITCH_AGENT_INFO.length, ...SWITCH_AGENT_INFO, 0xff]);
  const offer = await r.answer(fromSwitch(() => {}), FROM_RELAY);
  assert.ok(offer.reply, offer.reason);
  assert.deepEqual([offer.reply.yiaddr, offer.node, offer.agent], ['10.2.0.42', 'host:r2n2', { circuitId: 'Gi1/0/7', remoteId: '0x525400aabbcc', trusted: true }]);
  const request = (ip: string) => fromSwitch((p) => {
    p.options.set(OptionCode.MessageType, Buffer.from([DhcpMessageType.Request]));
    p.options.set(OptionCode.RequestedIpAddress, Buffer.from(ip.split('.').map(Number)));
    p.options.set(OptionCode.ServerIdentifier, Buffer.from([10, 1, 0, 1]));
  });
  const ack = await r.answer(request('10.2.0.42'), FROM_RELAY);
  const nak = await r.answer(request('10.2.0.77'), FROM_RELAY);
  for (const [name, a, type] of [['offer', offer, DhcpMessageType.Offer], ['ack', ack, DhcpMessageType.Ack], ['nak', nak, DhcpMessageType.Nak]] as const) {
    assert.ok(a.reply, `${name}: ${a.reason}`);
    assert.equal(getOption(a.reply, DhcpOption.messageType), type, name);
    const bytes = encodeDhcpPacket(a.reply);
    assert.equal(bytes[3], 0, `${name}: hops 0 (RFC 2131 table 3), not the request's 3`);
    assert.deepEqual([...bytes.subarray(24, 28)], [10, 2, 0, 1], `${name}: giaddr copied`);
    assert.deepEqual(bytes.subarray(bytes.length - tail.length).toString('hex'), tail.toString('hex'), `${name}: option 82 verbatim, then end`);
  }
});

it('golden: an option 82 too malformed to read is not believed, and still goes back to its relay byte for byte', async () => {
  const cfg = parseConfig(CONFIG.replace('unknown_clients: deny', 'unknown_clients: allow').replace('nodes:', 'default_profile: default\nnodes:'), '/x/d.yaml');
  const r = new BootDhcpResponder({ settings: dhcpSettingsFromConfig(cfg, PORTS), lookupNode: dhcpNodeLookup(() => cfg), leaseStore: new LeaseStore() });
  const broken = Buffer.from([1, 5, ...ascii('rack1'), 2, 9, 0x61]); // remote id overruns the option
  const a = await r.answer(golden((p) => p.options.set(OptionCode.RelayAgentInformation, broken)), FROM_RELAY);
  assert.ok(a.reply, a.reason);
  assert.deepEqual([a.reply.yiaddr, a.node, a.agent], ['10.2.0.100', undefined, undefined], 'a pool address: no port is believed from it');
  const bytes = encodeDhcpPacket(a.reply);
  const tail = Buffer.from([82, broken.length, ...broken, 0xff]);
  assert.deepEqual(bytes.subarray(bytes.length - tail.length).toString('hex'), tail.toString('hex'));
});

for (const reserved of ['10.2.0.41', '10.2.0.120']) {
  it(`after the node booted on its port, the same MAC on another port of the same subnet is a stranger: no name, not its address ${reserved} (${reserved === '10.2.0.41' ? 'outside' : 'inside'} the pool), a NAK for it`, async () => {
    const cfg = parseConfig(CONFIG.replace('unknown_clients: deny', 'unknown_clients: allow').replace('nodes:', 'default_profile: default\nnodes:').replace('address: 10.2.0.41', `address: ${reserved}`), '/x/d.yaml');
    const leaseStore = new LeaseStore();
    const r = new BootDhcpResponder({
      settings: dhcpSettingsFromConfig(cfg, PORTS),
      lookupNode: dhcpNodeLookup(() => cfg, () => ({ circuitId: 'rack1' })),
      reservedBy: (ip) => {
        const n = nodeByAddress(cfg, ip);
        return n && nodeKey(n);
      },
      leaseStore,
    });
    const request = (port: string, ip: string) => golden((p) => {
      p.options.set(OptionCode.RelayAgentInformation, circuit(port));
      p.options.set(OptionCode.MessageType, Buffer.from([DhcpMessageType.Request]));
      p.options.set(OptionCode.RequestedIpAddress, Buffer.from(ip.split('.').map(Number)));
    });
    const booted = await r.answer(request('rack1', reserved), FROM_RELAY);
    assert.ok(booted.reply, booted.reason);
    assert.deepEqual([getOption(booted.reply, DhcpOption.messageType), booted.reply.yiaddr, booted.node], [DhcpMessageType.Ack, reserved, 'host:r2n1']);
    // The same MAC behind port rack7 of the same relay (same giaddr, same subnet).
    const offer = await r.answer(golden((p) => p.options.set(OptionCode.RelayAgentInformation, circuit('rack7'))), FROM_RELAY);
    assert.ok(offer.reply, offer.reason);
    assert.deepEqual([offer.reply.yiaddr, offer.node, getOption(offer.reply, DhcpOption.hostName)], ['10.2.0.100', undefined, undefined], offer.reason);
    const claim = await r.answer(request('rack7', reserved), FROM_RELAY);
    assert.ok(claim.reply, claim.reason);
    assert.equal(getOption(claim.reply, DhcpOption.messageType), DhcpMessageType.Nak, claim.reason);
    assert.equal(claim.node, undefined);
  });
}
