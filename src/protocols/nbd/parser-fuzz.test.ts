import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, MAX_OPTION_DATA_BYTES, MAX_PAYLOAD_BYTES, Option } from './constants.js';
import { decodeClientFlags, encodeClientFlags } from './greeting.js';
import { decodeInfoRequest, decodeOptionHeader, encodeInfoRequest, encodeOptionRequest, exportName } from './option-request.js';
import { NbdParser, type ClientMessage } from './parser.js';
import { decideRequest } from './request-policy.js';
import { decodeRequest, encodeRequest } from './transmission.js';
import * as golden from './testdata/golden.js';
import { largestAllocation } from '../../testing/allocation-spy.js';
import { randomBytes, randomInt, seededRandom } from '../../testing/seeded-random.js';

const ROUNDS = 3000;

/** A whole client conversation from the golden bytes: flags, options, GO, then requests. */
const session = Buffer.concat([
  golden.clientFlags,
  encodeOptionRequest(Option.INFO, encodeInfoRequest('root', [1, 3])),
  golden.optionList,
  golden.optionGo,
  golden.readRequest,
  golden.writeRequest,
  Buffer.from('8 bytes!'),
  golden.discRequest,
]);

/** Length and magic fields are where stream parsers go wrong, so mutations aim at them too. */
function mutate(random: () => number, source: Uint8Array): Uint8Array {
  const bytes = [...source];
  for (let e = 1 + randomInt(random, 6); e > 0; e--) {
    const at = randomInt(random, bytes.length + 1);
    switch (randomInt(random, 6)) {
      case 0: bytes[at] = randomInt(random, 256); break;
      case 1: bytes.splice(at); break;
      case 2: bytes.splice(at, 0, ...randomBytes(random, randomInt(random, 40))); break;
      case 3: bytes.splice(at, randomInt(random, 20)); break;
      case 4: bytes.splice(at, 4, 0xff, 0xff, 0xff, 0xff); break; // a length of 4 GiB
      default: bytes.splice(at, 4, 0, 0, 0, 0); break;
    }
  }
  return Uint8Array.from(bytes);
}

/** Random cut points, so messages straddle chunks the way TCP delivers them. */
function chunks(random: () => number, bytes: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = 1 + randomInt(random, 64);
    out.push(Buffer.from(bytes.subarray(at, at + n)));
    at += n;
  }
  return out;
}

/**
 * Drives a parser like NbdConnection does (transmission after GO or EXPORT_NAME) and checks
 * the invariants on every message: nothing thrown, nothing returned or buffered beyond what
 * was pushed, and nothing parsed after a framing error.
 */
function drive(input: Buffer[], where: string, transmissionAtStart = false): ClientMessage[] {
  const parser = new NbdParser();
  const messages: ClientMessage[] = [];
  let pushed = 0;
  let returned = 0;
  let failed = false;
  if (transmissionAtStart) {
    parser.push(encodeClientFlags(3));
    parser.next();
    parser.startTransmission();
  }
  for (const chunk of input) {
    parser.push(chunk);
    pushed += chunk.length;
    assert.ok(parser.buffered <= pushed - returned, `${where}: buffers ${parser.buffered} bytes of ${pushed} pushed`);
    for (let m = parser.next(); m; m = parser.next()) {
      assert.ok(!failed, `${where}: a message after a framing error`);
      messages.push(m);
      if (m.type === 'error' || m.type === 'option-too-big') failed = true;
      if (m.type === 'option') {
        assert.ok(m.data.length <= MAX_OPTION_DATA_BYTES, `${where}: option data of ${m.data.length} bytes`);
        returned += m.data.length;
        if (m.option === Option.GO || m.option === Option.EXPORT_NAME) parser.startTransmission();
      }
      if (m.type === 'request' && m.request.command === Command.WRITE) {
        assert.ok(m.request.length <= MAX_PAYLOAD_BYTES, `${where}: a WRITE of ${m.request.length} bytes went by`);
      }
    }
    if (failed) assert.equal(parser.buffered, 0, `${where}: bytes kept after a framing error`);
  }
  assert.ok(returned <= pushed, `${where}: returned ${returned} bytes of ${pushed} pushed`);
  return messages;
}

test(`NbdParser: ${ROUNDS} mutated golden sessions in random chunks keep every invariant`, () => {
  const seed = 0x4e424431;
  const random = seededRandom(seed);
  const kinds = new Set<string>();
  let seenAllocating = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const input = chunks(random, mutate(random, session));
    const where = `seed ${seed.toString(16)} round ${i}`;
    const { largest } = largestAllocation(() => {
      for (const m of drive(input, where)) kinds.add(m.type);
    });
    assert.ok(largest <= session.length + 400, `${where}: allocated ${largest} bytes`);
    seenAllocating = Math.max(seenAllocating, largest);
  }
  // Messages straddling chunks are copied out with Buffer.allocUnsafe: the spy must see them.
  assert.ok(seenAllocating > 0, 'the allocation spy saw nothing');
  // Every kind of outcome was reached, or the mutator is too gentle or too destructive.
  assert.deepEqual([...kinds].sort(), ['client-flags', 'error', 'option', 'option-too-big', 'request']);
});

test(`NbdParser: ${ROUNDS} random byte streams in both phases never throw and buffer no more than they got`, () => {
  const seed = 0x4e424432;
  const random = seededRandom(seed);
  for (let i = 0; i < ROUNDS; i++) {
    const bytes = randomBytes(random, randomInt(random, 400));
    // Half the streams start with valid flags and option magic, to get past the first check.
    const prefix = i % 2 === 0 ? Buffer.concat([encodeClientFlags(3), golden.optionList.subarray(0, 8)]) : Buffer.alloc(0);
    const input = chunks(random, Buffer.concat([prefix, bytes]));
    const where = `seed ${seed.toString(16)} round ${i}`;
    const { largest } = largestAllocation(() => drive(input, where, i % 3 === 0));
    assert.ok(largest <= 600, `${where}: allocated ${largest} bytes`);
  }
});

test('NbdParser: any option length over the cap, up to 4 GiB, is refused from the header without allocating it', () => {
  const seed = 0x4e424433;
  const random = seededRandom(seed);
  for (let i = 0; i < 500; i++) {
    const length = i === 0 ? 0xffffffff : MAX_OPTION_DATA_BYTES + 1 + randomInt(random, 0xffffffff - MAX_OPTION_DATA_BYTES);
    const option = randomInt(random, 2 ** 32);
    const header = encodeOptionRequest(option).subarray(0, 16);
    header.writeUInt32BE(length, 12);
    const parser = new NbdParser();
    const { result, largest } = largestAllocation(() => {
      parser.push(Buffer.concat([encodeClientFlags(3), header, randomBytes(random, 100)]));
      parser.next();
      return parser.next();
    });
    assert.deepEqual(result, { type: 'option-too-big', option, length }, `seed ${seed.toString(16)} round ${i}`);
    assert.ok(largest < 1024, `round ${i}: allocated ${largest} bytes for a ${length}-byte claim`);
    assert.equal(parser.buffered, 0);
  }
});

test('NbdParser: a WRITE payload length up to 4 GiB is skipped as it streams or refused, never buffered', () => {
  const seed = 0x4e424434;
  const random = seededRandom(seed);
  for (let i = 0; i < 500; i++) {
    const length = i === 0 ? 0xffffffff : randomInt(random, 2 ** 32);
    const parser = new NbdParser();
    parser.push(encodeClientFlags(3));
    parser.next();
    parser.startTransmission();
    const { result, largest } = largestAllocation(() => {
      parser.push(Buffer.concat([encodeRequest({ flags: 0, command: Command.WRITE, cookie: 1n, offset: 0n, length }), Buffer.alloc(4096)]));
      return parser.next();
    });
    const where = `seed ${seed.toString(16)} round ${i}, length ${length}`;
    assert.ok(largest <= 4096 + 28, `${where}: allocated ${largest} bytes`);
    if (length > MAX_PAYLOAD_BYTES) assert.equal(result?.type, 'error', where);
    else if (length > 4096) assert.equal(result, undefined, `${where}: waits for the rest of the payload`);
    else assert.equal(result?.type, 'request', where);
    assert.ok(parser.buffered <= 4096, where);
  }
});

test('NBD field decoders: random input never throws, and what they return fits the input', () => {
  const seed = 0x4e424435;
  const random = seededRandom(seed);
  for (let i = 0; i < 20_000; i++) {
    const bytes = randomBytes(random, randomInt(random, 64));
    const where = `seed ${seed.toString(16)} round ${i}`;
    for (const decode of [decodeOptionHeader, decodeRequest, decodeClientFlags]) {
      const r = decode(bytes);
      if (!r.ok) assert.match(r.error, /^Cannot decode/, where);
    }
    // A GO/INFO body: the name length is the field that claims more than is there.
    if (bytes.length >= 4 && random() < 0.5) bytes.set(randomBytes(random, 1).map((b) => b % 8), 3);
    const info = decodeInfoRequest(bytes);
    if (info.ok) {
      assert.ok(info.value.name.length + 2 * info.value.infos.length + 6 === bytes.length, `${where}: info request does not account for every byte`);
    } else {
      assert.match(info.error, /^Cannot decode info request/, where);
    }
    const name = exportName(bytes);
    if (name !== undefined) assert.ok(Buffer.byteLength(name) === bytes.length, where);
  }
});

test('decideRequest: whatever a decoded request claims, a read stays inside the export and under 32 MiB', () => {
  const seed = 0x4e424436;
  const random = seededRandom(seed);
  const sizes = [0, 1, 4096, 1024 ** 3, 2 ** 52];
  let reads = 0;
  for (let i = 0; i < 20_000; i++) {
    const size = sizes[randomInt(random, sizes.length)]!;
    // Offsets near the end of the export and near 2^64, where a 64-bit sum would wrap.
    const offsets = [BigInt(randomInt(random, size + 1)), BigInt(size) - BigInt(randomInt(random, 70_000)), 2n ** 64n - 1n - BigInt(randomInt(random, 4096))];
    const offset = offsets[randomInt(random, offsets.length)]!;
    const length = random() < 0.5 ? randomInt(random, 2 ** 32) : randomInt(random, 70_000);
    const bytes = encodeRequest({ flags: random() < 0.8 ? randomInt(random, 2) : randomInt(random, 65536), command: randomInt(random, 4), cookie: 7n, offset: offset < 0n ? 0n : offset, length });
    const decoded = decodeRequest(bytes);
    assert.ok(decoded.ok);
    const action = decideRequest(decoded.value, size);
    if (action.action !== 'read') continue;
    reads++;
    const where = `seed ${seed.toString(16)} round ${i}: offset ${decoded.value.offset}, length ${length}, size ${size}`;
    assert.ok(action.length > 0 && action.length <= MAX_PAYLOAD_BYTES, where);
    assert.ok(Number.isSafeInteger(action.offset) && action.offset + action.length <= size, where);
  }
  assert.ok(reads > 200, `only ${reads} requests became reads`);
});
