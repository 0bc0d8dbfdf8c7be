import { it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDhcpPacket, MAX_DHCP_PACKET_BYTES } from './packet.js';
import { ipxeBiosDiscover } from './testdata/ipxe-bios-discover.js';
import { largestAllocation } from '../../testing/allocation-spy.js';
import { randomBytes, randomInt, seededRandom } from '../../testing/seeded-random.js';

const SEED = 0xd15c1e56;
const ROUNDS = 20_000;

/**
 * Random datagrams the decoder must survive: pure noise, and a valid fixed header (op, hlen,
 * magic cookie) followed by random code/length/value options, so most rounds reach the option
 * parser, where one-byte length fields, overload and RFC 3396 concatenation live.
 */
function datagram(random: () => number): Uint8Array {
  if (random() < 0.2) return randomBytes(random, randomInt(random, MAX_DHCP_PACKET_BYTES + 200));
  const options: number[] = [];
  for (let n = randomInt(random, 12); n > 0; n--) {
    // Codes the decoder checks lengths of (53, 54, 93…), padding, overload and concatenated repeats.
    const code = random() < 0.5 ? [0, 1, 3, 12, 43, 50, 52, 53, 54, 55, 60, 61, 77, 93, 94, 97, 175][randomInt(random, 17)]! : 1 + randomInt(random, 254);
    const length = randomInt(random, 24);
    options.push(code);
    if (code === 0) continue;
    // Sometimes the length claims more than follows: the classic overrun.
    options.push(random() < 0.1 ? 255 : length, ...randomBytes(random, length));
  }
  if (random() < 0.8) options.push(255);
  const header = Uint8Array.from(ipxeBiosDiscover.subarray(0, 240));
  if (random() < 0.1) header.set(randomBytes(random, 192), 44); // sname and file: random bytes
  return Uint8Array.from([...header, ...options]);
}

it(`decodeDhcpPacket: ${ROUNDS} random datagrams give a typed result, and option data never exceeds the input (seed ${SEED.toString(16)})`, () => {
  const random = seededRandom(SEED);
  let decoded = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const input = datagram(random);
    const where = `seed ${SEED.toString(16)} round ${i}`;
    const { result, largest } = largestAllocation(() => decodeDhcpPacket(input));
    assert.ok(largest <= input.length, `${where}: allocated ${largest} bytes for a ${input.length}-byte datagram`);
    if (!result.ok) {
      assert.equal(typeof result.error, 'string', where);
      assert.doesNotMatch(result.error, /decoder bug/, `${where}: [${[...input]}]`);
      continue;
    }
    decoded++;
    let optionBytes = 0;
    for (const value of result.packet.options.values()) optionBytes += value.length;
    assert.ok(optionBytes <= input.length - 240, `${where}: ${optionBytes} bytes of options from ${input.length - 240}`);
    assert.equal(result.packet.chaddr.length, 16, where);
    assert.ok(Buffer.byteLength(result.packet.sname, 'latin1') < 64 && Buffer.byteLength(result.packet.file, 'latin1') < 128, where);
  }
  assert.ok(decoded > 1000, `only ${decoded} datagrams decoded: the generator never gets past the header`);
});
