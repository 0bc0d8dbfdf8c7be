import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTftpPacket } from './decode.js';
import { negotiateOptions } from './negotiate.js';
import { MAX_FILENAME_BYTES, MAX_OPTION_BYTES, type TftpOption } from './packet.js';
import { goldenPackets } from './testdata/packets.js';
import { largestAllocation } from '../../testing/allocation-spy.js';
import { randomBytes, randomInt, seededRandom } from '../../testing/seeded-random.js';

const ROUNDS = 20_000;
const OPTION_NAMES = ['blksize', 'BLKSIZE', 'windowsize', 'timeout', 'tsize', 'x'];

/**
 * Random datagrams, biased towards what reaches the option parser: a request opcode, short
 * NUL-separated fields, and the option names the server acts on.
 */
function datagram(random: () => number): Uint8Array {
  if (random() < 0.3) return randomBytes(random, randomInt(random, 700));
  const parts: number[] = [0, 1 + randomInt(random, 6)];
  for (let f = randomInt(random, 10); f > 0; f--) {
    const field = random() < 0.3
      ? Buffer.from(OPTION_NAMES[randomInt(random, OPTION_NAMES.length)]!)
      : random() < 0.5 ? Buffer.from(String(randomInt(random, 2 ** 31)).repeat(1 + randomInt(random, 4))) : randomBytes(random, randomInt(random, 300));
    parts.push(...field, 0);
  }
  if (random() < 0.2) parts.pop(); // no final NUL
  return Uint8Array.from(parts);
}

test(`decodeTftpPacket: ${ROUNDS} random datagrams never throw, and decoded sizes are bounded by the input`, () => {
  const seed = 0x7f7f2025;
  const random = seededRandom(seed);
  const outcomes = new Map<string, number>();
  for (let i = 0; i < ROUNDS; i++) {
    const input = datagram(random);
    const where = `seed ${seed.toString(16)} round ${i}`;
    let r;
    try {
      r = decodeTftpPacket(input);
    } catch (e) {
      assert.fail(`${where} threw on [${[...input]}]: ${String(e)}`);
    }
    const kind = r.ok ? r.packet.type : 'refused';
    outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
    if (!r.ok) {
      assert.match(r.error, /^Cannot decode/, where);
      continue;
    }
    const p = r.packet;
    switch (p.type) {
      case 'rrq':
      case 'wrq':
      case 'oack': {
        const text = p.type === 'oack' ? '' : p.filename + p.mode;
        const options = p.options.map((o) => o.name + o.value).join('');
        assert.ok(Buffer.byteLength(text + options) <= input.length, `${where}: decoded more text than the datagram holds`);
        if (p.type !== 'oack') assert.ok(Buffer.byteLength(p.filename) <= MAX_FILENAME_BYTES, where);
        for (const o of p.options) assert.ok(Buffer.byteLength(o.value) <= MAX_OPTION_BYTES, where);
        const names = p.options.map((o) => o.name.toLowerCase());
        assert.equal(new Set(names).size, names.length, `${where}: duplicate option accepted`);
        break;
      }
      case 'data': assert.equal(p.data.length, input.length - 4, where); break;
      default: break;
    }
  }
  for (const kind of ['refused', 'rrq', 'wrq', 'data', 'ack', 'error', 'oack']) {
    assert.ok((outcomes.get(kind) ?? 0) > 20, `only ${outcomes.get(kind) ?? 0} outcomes "${kind}": the generator misses a branch`);
  }
});

test('negotiateOptions: any option values, however large, stay within the limits and allocate nothing big', () => {
  const seed = 0x7f7f2026;
  const random = seededRandom(seed);
  const limits = { maxBlksize: 8192, maxWindowsize: 64, maxWindowBytes: 65536 };
  const value = (): string => {
    switch (randomInt(random, 4)) {
      case 0: return '9'.repeat(1 + randomInt(random, 255)); // up to 10^255
      case 1: return String(randomInt(random, 70_000));
      case 2: return `0000${randomInt(random, 100)}`;
      default: return ['', '-1', '1e9', ' 512', '0x200', '512.0'][randomInt(random, 6)]!;
    }
  };
  for (let i = 0; i < 5000; i++) {
    const requested: TftpOption[] = Array.from({ length: randomInt(random, 5) }, () => ({ name: OPTION_NAMES[randomInt(random, OPTION_NAMES.length)]!, value: value() }));
    const where = `seed ${seed.toString(16)} round ${i}: ${JSON.stringify(requested)}`;
    const { result: n, largest } = largestAllocation(() => negotiateOptions(requested, limits, 1234));
    assert.ok(largest < 1024, `${where}: allocated ${largest} bytes`);
    assert.ok(Number.isInteger(n.blksize) && n.blksize >= 8 && n.blksize <= limits.maxBlksize, `${where}: blksize ${n.blksize}`);
    assert.ok(Number.isInteger(n.windowsize) && n.windowsize >= 1 && n.windowsize <= limits.maxWindowsize, `${where}: windowsize ${n.windowsize}`);
    assert.ok(n.windowsize === 1 || n.blksize * n.windowsize <= limits.maxWindowBytes, `${where}: window of ${n.blksize * n.windowsize} bytes`);
    if (n.timeoutMs !== undefined) assert.ok(n.timeoutMs >= 1000 && n.timeoutMs <= 255_000, where);
    for (const o of n.oack) assert.match(o.value, /^[0-9]{1,6}$/, `${where}: OACK value ${o.value}`);
  }
});

test('every golden packet still decodes (the generator seeds above are not the only coverage)', () => {
  for (const [name, bytes] of Object.entries(goldenPackets)) assert.ok(decodeTftpPacket(bytes).ok, name);
});
