import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes as cryptoBytes } from 'node:crypto';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeAck, encodeTftpPacket } from './encode.js';
import { TftpServer } from './server.js';
import { goldenPackets } from './testdata/packets.js';
import { fetchFile } from './testdata/udp-client.js';
import { countingLogger } from '../../testing/counting-logger.js';
import { floodUdp } from '../../testing/udp-flood.js';
import { canCollectGarbage, MiB, settledHeapUsed } from '../../testing/heap.js';
import { randomBytes, randomInt, seededRandom } from '../../testing/seeded-random.js';

const SEED = 0x7f1d0042;
const FLOOD = 100_000;
const CAP = 4;

const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];
const rrq = (...body: number[]): Uint8Array => Uint8Array.from([0, 1, ...body]);
const sources = Object.values(goldenPackets);

/**
 * One datagram for the request port, and whether the server owes it an ERROR reply. None may
 * start a transfer: malformed requests, noise, stray DATA/ACK, and well-formed requests the
 * server refuses (escapes, missing files, writes, bad modes; the missing file goes through the
 * asynchronous path check, which holds a transfer slot while it runs).
 */
function floodPacket(random: () => number): { bytes: Uint8Array; answered: boolean } {
  switch (randomInt(random, 10)) {
    case 0: return { bytes: randomBytes(random, randomInt(random, 600)), answered: false };
    case 1: {
      // A golden packet cut short or with a byte changed, reframed as a request.
      const g = sources[randomInt(random, sources.length)]!;
      const cut = new Uint8Array(3 + randomInt(random, g.length));
      cut.set(g.subarray(0, cut.length));
      cut[0] = 0;
      cut[1] = 1 + randomInt(random, 2);
      cut[cut.length - 1] = 0x41; // no final NUL after the opcode: always malformed
      return { bytes: cut, answered: true };
    }
    case 2: return { bytes: rrq(...ascii('a'.repeat(256 + randomInt(random, 2000))), 0, ...ascii('octet'), 0), answered: true };
    case 3: return { bytes: rrq(0, ...ascii('octet'), 0), answered: true };
    case 4: return { bytes: rrq(...ascii('f'), 0, ...ascii('octet'), 0, ...ascii('blksize'), 0, ...ascii('8'), 0, ...ascii('BLKSIZE'), 0, ...ascii('9'), 0), answered: true };
    case 5: return { bytes: Uint8Array.from([0, 4, randomInt(random, 256)]), answered: false }; // truncated ACK
    case 6: return { bytes: random() < 0.5 ? encodeAck(randomInt(random, 65536)) : encodeTftpPacket({ type: 'error', code: 0, message: 'x' }), answered: false };
    case 7: return { bytes: rrq(...ascii(`../x${randomInt(random, 1000)}`), 0, ...ascii('octet'), 0), answered: true };
    case 8: return { bytes: rrq(...ascii(`missing-${randomInt(random, 1000)}`), 0, ...ascii('octet'), 0), answered: true };
    default: return { bytes: Uint8Array.from([0, 1 + randomInt(random, 2), ...ascii('file.bin'), 0, ...ascii('mail'), 0]), answered: true };
  }
}

test(`${FLOOD} malformed datagrams at the live TftpServer: all answered or dropped, no leak, files still served (seed ${SEED.toString(16)})`, async () => {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'tftp-flood-')));
  const file = cryptoBytes(100 * 1024 + 3);
  await writeFile(join(dir, 'file.bin'), file);
  const logger = countingLogger();
  const server = new TftpServer({ address: '127.0.0.1', port: 0, root: dir, maxTransfers: CAP, logger });
  await server.start();
  const port = server.address().port;
  const seen = (): number =>
    logger.count('malformed packet') + logger.count('request refused') + logger.count('ignored packet on request port');
  /** Fills every slot at once: a slot leaked by the flood would show up as "Server busy" here. */
  const fetchAtCap = async (): Promise<void> => {
    const results = await Promise.all(Array.from({ length: CAP }, () => fetchFile(port, 'file.bin', [{ name: 'blksize', value: '1468' }])));
    for (const r of results) {
      assert.equal(r.error, undefined, `seed ${SEED.toString(16)}: ${r.error?.message}`);
      assert.deepEqual(r.data, file);
    }
  };
  try {
    const random = seededRandom(SEED);
    let answered = 0;
    const packet = (): Uint8Array => {
      const p = floodPacket(random);
      if (p.answered) answered++;
      return p.bytes;
    };
    await floodUdp({ port, count: 2000, packet, seen });
    await fetchAtCap();
    const baseline = await settledHeapUsed();

    answered = 0;
    const r = await floodUdp({ port, count: FLOOD, packet, seen });
    const after = await settledHeapUsed();
    console.log(`tftp flood: ${r.seen}/${r.sent} seen, ${r.replies}/${answered} ERROR replies in ${r.ms} ms; heap ${((after - baseline) / MiB).toFixed(2)} MiB over baseline (gc: ${canCollectGarbage})`);
    assert.ok(r.seen >= FLOOD * 0.99, `seed ${SEED.toString(16)}: the server saw only ${r.seen} of ${FLOOD}`);
    assert.ok(r.replies >= answered * 0.99, `only ${r.replies} of ${answered} bad requests were answered: silence is not an answer`);
    assert.ok(r.replies <= answered, 'noise was answered');
    assert.equal(logger.count('transfer started'), CAP, 'only the warm-up fetches started transfers');
    assert.equal(logger.total('error'), 0, 'no handler failures');
    assert.equal(server.activeTransfers, 0);
    assert.ok(after - baseline < (canCollectGarbage ? 8 * MiB : 48 * MiB), `heap grew ${((after - baseline) / MiB).toFixed(1)} MiB over the flood`);

    await fetchAtCap();
    assert.equal(server.activeTransfers, 0);
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
