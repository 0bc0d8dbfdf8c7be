import { it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRelayAgentInfo, encodeRelayAgentInfo, switchPortOf } from './relay-agent-info.js';
import { agentIdText, canonicalAgentId } from '../../net/switch-port.js';
import { decodeDhcpPacket } from './packet.js';
import { getOption } from './option-spec.js';
import { DhcpOption } from './dhcp-options.js';
import { relayedIpxeDiscover } from './testdata/relayed-discover.js';
import { randomBytes, randomInt, seededRandom } from '../../testing/seeded-random.js';

it('reads the circuit id dhcrelay -a put into a real relayed DISCOVER', () => {
  const r = decodeDhcpPacket(relayedIpxeDiscover);
  assert.ok(r.ok);
  const info = getOption(r.packet, DhcpOption.relayAgentInformation);
  assert.ok(info);
  assert.equal(info.circuitId?.toString(), 'rack1');
  assert.equal(info.remoteId, undefined, 'dhcrelay sends no remote id');
  assert.deepEqual(encodeRelayAgentInfo(info), r.packet.options.get(82), 're-encodes byte for byte');
});

it('reads circuit and remote id among other sub-options, in order', () => {
  const bytes = Buffer.from([1, 3, 0x00, 0x04, 0x07, 5, 4, 10, 2, 0, 1, 2, 6, 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc]);
  const info = decodeRelayAgentInfo(bytes);
  assert.ok(info);
  assert.deepEqual(info.subOptions.map((s) => s.code), [1, 5, 2]);
  assert.equal(agentIdText(info.circuitId!), '0x000407');
  assert.equal(agentIdText(info.remoteId!), '0x525400aabbcc');
  assert.deepEqual(encodeRelayAgentInfo(info), bytes);
});

it('refuses sub-options that overrun, repeat, or an option too short to hold one', () => {
  for (const bad of [[], [1], [1, 5, 0x61], [1, 1, 0x61, 2], [1, 1, 0x61, 1, 1, 0x62]]) {
    assert.equal(decodeRelayAgentInfo(Buffer.from(bad)), undefined, JSON.stringify(bad));
  }
  assert.deepEqual(decodeRelayAgentInfo(Buffer.from([1, 0]))?.circuitId, Buffer.alloc(0), 'an empty circuit id is still one');
});

it('ids as text: printable ASCII as it is, anything else (and text that looks like hex) as 0x…', () => {
  assert.equal(agentIdText(Buffer.from('Gi1/0/7')), 'Gi1/0/7');
  assert.equal(agentIdText(Buffer.from('rack 1')), 'rack 1');
  assert.equal(agentIdText(Buffer.from('a\nb')), '0x610a62');
  assert.equal(agentIdText(Buffer.from('0x12')), '0x30783132');
  assert.equal(agentIdText(Buffer.alloc(0)), '0x');
  // The config's side of the same rule: hex of printable bytes is the text itself.
  assert.equal(canonicalAgentId('rack1'), 'rack1');
  assert.equal(canonicalAgentId('0x7261636B31'), 'rack1');
  assert.equal(canonicalAgentId('0x000407'), '0x000407');
  assert.equal(canonicalAgentId('0x30783132'), '0x30783132');
  for (const bad of ['', '0x', '0x123', 'tab\there', 'x'.repeat(256)]) assert.equal(canonicalAgentId(bad), undefined, bad);
});

it('the switch port of option 82: circuit id, and remote id when sent', () => {
  assert.deepEqual(switchPortOf(decodeRelayAgentInfo(Buffer.from([1, 5, ...Buffer.from('rack1')]))!), { circuitId: 'rack1' });
  assert.deepEqual(switchPortOf(decodeRelayAgentInfo(Buffer.from([2, 3, ...Buffer.from('sw3'), 1, 2, 0, 7]))!), { circuitId: '0x0007', remoteId: 'sw3' });
  assert.equal(switchPortOf(decodeRelayAgentInfo(Buffer.from([2, 3, ...Buffer.from('sw3')]))!), undefined, 'no circuit id: no port');
});

it('seeded fuzz (seed 82): any bytes decode or are refused, never throw', () => {
  const random = seededRandom(82);
  for (let i = 0; i < 5000; i++) {
    const bytes = randomBytes(random, randomInt(random, 41));
    const info = decodeRelayAgentInfo(bytes);
    if (info) assert.deepEqual(encodeRelayAgentInfo(info), Buffer.from(bytes), `seed 82, case ${i}`);
  }
});
