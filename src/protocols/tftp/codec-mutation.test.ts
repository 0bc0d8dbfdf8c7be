import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTftpPacket } from './decode.js';
import { encodeTftpPacket } from './encode.js';
import type { TftpPacket } from './packet.js';
import { goldenPackets } from './testdata/packets.js';
import { seededRandom as prng } from '../../testing/seeded-random.js';

function mutate(src: Uint8Array, rand: () => number): Uint8Array {
  const int = (n: number): number => Math.floor(rand() * n);
  let b = [...src];
  const rounds = 1 + int(4);
  for (let i = 0; i < rounds; i++) {
    const at = int(b.length + 1);
    switch (int(7)) {
      case 0: if (b.length) b[at % b.length]! ^= 1 << int(8); break;             // flip a bit
      case 1: if (b.length) b[at % b.length] = int(256); break;                   // random byte
      case 2: b = b.slice(0, at); break;                                          // truncate
      case 3: b.splice(at, 0, int(256)); break;                                   // insert a byte
      case 4: b.splice(at, 1); break;                                             // delete a byte
      case 5: if (b.length) b[at % b.length] = 0; break;                          // add a NUL
      case 6: b.splice(at, 0, ...b.slice(int(b.length), int(b.length) + 40)); break; // duplicate a run
    }
  }
  return Uint8Array.from(b);
}

const plain = (p: TftpPacket): unknown => (p.type === 'data' ? { ...p, data: [...p.data] } : p);

test('2000 seeded mutations of the golden packets never throw, and what decodes re-encodes losslessly', () => {
  const seed = 0x7f7f2024;
  const rand = prng(seed);
  const sources = Object.values(goldenPackets);
  let decoded = 0;
  for (let i = 0; i < 2000; i++) {
    const input = mutate(sources[i % sources.length]!, rand);
    let result;
    try {
      result = decodeTftpPacket(input);
    } catch (e) {
      assert.fail(`seed ${seed} mutation ${i} threw on [${[...input]}]: ${String(e)}`);
    }
    if (!result.ok) continue;
    decoded++;
    const again = decodeTftpPacket(encodeTftpPacket(result.packet));
    assert.ok(again.ok, `mutation ${i}: re-encoded packet does not decode`);
    assert.deepEqual(plain(again.packet), plain(result.packet), `mutation ${i}`);
  }
  // Both branches must be exercised, or the mutator is too weak or too destructive.
  assert.ok(decoded > 100 && decoded < 1900, `decoded ${decoded} of 2000`);
});
