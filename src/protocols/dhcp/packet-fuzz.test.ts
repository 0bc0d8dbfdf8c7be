import { it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDhcpPacket, encodeDhcpPacket } from './packet.js';
import { ipxeBiosDiscover } from './testdata/ipxe-bios-discover.js';
import { ovmfPxeDiscover } from './testdata/ovmf-pxe-discover.js';
import { uefiHttpDiscover } from './testdata/uefi-http-discover.js';
import { randomBytes, randomInt, seededRandom } from '../../testing/seeded-random.js';

const SEED = 0xd15c1e55;
const ROUNDS = 2000;

function mutate(random: () => number, source: Uint8Array): Uint8Array {
  const bytes = [...source];
  const edits = 1 + randomInt(random, 8);
  for (let e = 0; e < edits; e++) {
    const at = randomInt(random, bytes.length + 1);
    switch (randomInt(random, 5)) {
      case 0: bytes[at] = randomInt(random, 256); break;
      case 1: bytes.splice(at); break;
      case 2: bytes.splice(at, 0, ...randomBytes(random, randomInt(random, 40))); break;
      case 3: bytes.splice(at, randomInt(random, 20)); break;
      // Lengths and codes are where decoders go wrong: hit the options area specifically.
      default: bytes[240 + randomInt(random, Math.max(1, bytes.length - 240))] = [0, 1, 52, 53, 255][randomInt(random, 5)]!;
    }
  }
  return Uint8Array.from(bytes);
}

it(`decoder never throws on ${ROUNDS} mutated golden packets (seed ${SEED.toString(16)})`, () => {
  const random = seededRandom(SEED);
  const golden = [ipxeBiosDiscover, ovmfPxeDiscover, uefiHttpDiscover];
  let decoded = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const input = mutate(random, golden[i % golden.length]!);
    const result = decodeDhcpPacket(input);
    if (!result.ok) {
      assert.equal(typeof result.error, 'string');
      assert.doesNotMatch(result.error, /decoder bug/, `round ${i}`);
      continue;
    }
    decoded++;
    // Whatever decodes must encode again and decode to the same packet.
    const again = decodeDhcpPacket(encodeDhcpPacket(result.packet));
    assert.ok(again.ok, `round ${i}: re-encoded packet did not decode`);
    assert.deepEqual(again.packet, result.packet, `round ${i}`);
  }
  assert.ok(decoded > 100, `only ${decoded} mutations decoded; the mutator is too destructive to test round trips`);
});
