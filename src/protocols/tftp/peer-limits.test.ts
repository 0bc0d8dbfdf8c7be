import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countingLogger } from '../../testing/counting-logger.js';
import { canCollectGarbage, MiB, settledHeapUsed } from '../../testing/heap.js';
import { floodUdp } from '../../testing/udp-flood.js';
import { encodeTftpPacket } from './encode.js';
import { ErrorCode, type TftpOption } from './packet.js';
import { TftpServer } from './server.js';
import { fetchFile, TestClient } from './testdata/udp-client.js';

/**
 * What one client address can take from the server: transfer slots (maxTransfersPerPeer), and
 * what a request it never follows up earns it in reply (its source may be spoofed, so the
 * replies may be aimed at somebody else). 127.0.0.2 is the other host; everything else
 * comes from 127.0.0.1.
 */

const OTHER_HOST = '127.0.0.2';
let dir = '';
const file = randomBytes(20 * 512 + 100); // 21 blocks: a transfer stays open until its ACKs come

before(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'tftp-peer-')));
  await writeFile(join(dir, 'file.bin'), file);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rrq = (options: TftpOption[] = []): Buffer => encodeTftpPacket({ type: 'rrq', filename: 'file.bin', mode: 'octet', options });

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Condition not met in ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('a request nobody acknowledges (a spoofed source) gets its first packet twice at most, then one ERROR, and frees its slot whatever timeout it asked', async (t) => {
  const server = new TftpServer({ address: '127.0.0.1', port: 0, root: dir, timeoutMs: 100 });
  await server.start();
  const port = server.address().port;
  const cases: Array<[string, TftpOption[], number]> = [
    // [what, options, bytes of the packet that may be sent twice]
    ['no options: DATA 1 of 512 bytes', [], 4 + 512],
    ['the largest blksize a client can ask (RFC 2348), with tsize: the OACK', [{ name: 'blksize', value: '65464' }, { name: 'tsize', value: '0' }], 0],
    ['timeout 255, the most RFC 2349 allows', [{ name: 'timeout', value: '255' }], 0],
  ];
  try {
    for (const [name, options, firstBytes] of cases) {
      const victim = await TestClient.open(OTHER_HOST);
      try {
        const request = rrq(options);
        victim.send(request, port);
        const got: Array<{ type: string; bytes: number }> = [];
        for (;;) {
          // 10 s: far beyond the 2 × 100 ms schedule, far below 255 s.
          const n = await victim.next(10_000);
          assert.ok(n, `${name}: no final ERROR within 10 s (${got.length} packets so far)`);
          got.push({ type: n.packet.type, bytes: encodeTftpPacket(n.packet).length });
          if (n.packet.type === 'error') break;
        }
        await until(() => server.activeTransfers === 0, 5000, `${name}: slot freed`);
        got.push(...(await victim.collect(150)).map((p) => ({ type: p.type, bytes: encodeTftpPacket(p).length })));
        const bytes = got.reduce((sum, p) => sum + p.bytes, 0);
        t.diagnostic(`${name}: a ${request.length}-byte RRQ drew ${got.length} packets, ${bytes} bytes (${got.map((p) => p.type).join(' ')})`);
        assert.ok(got.filter((p) => p.type !== 'error').length <= 2, `${name}: ${got.map((p) => p.type).join(' ')}`);
        assert.equal(got.filter((p) => p.type === 'error').length, 1, name);
        if (firstBytes > 0) assert.ok(bytes <= 2 * firstBytes + 32, `${name}: ${bytes} bytes`);
      } finally {
        victim.close();
      }
    }
  } finally {
    await server.stop();
  }
});

test('maxTransfersPerPeer: one address gets that many transfers and "Server busy" beyond, while another address is served; its slots come back', async () => {
  const logger = countingLogger();
  const server = new TftpServer({ address: '127.0.0.1', port: 0, root: dir, maxTransfers: 16, maxTransfersPerPeer: 2, timeoutMs: 100, logger });
  await server.start();
  const port = server.address().port;
  const clients = await Promise.all(Array.from({ length: 6 }, () => TestClient.open(OTHER_HOST)));
  try {
    for (const c of clients) c.send(rrq(), port);
    const firsts = await Promise.all(clients.map((c) => c.next(2000)));
    assert.equal(firsts.filter((f) => f?.packet.type === 'data').length, 2, 'two transfers for the one address');
    const refused = firsts.filter((f) => f?.packet.type === 'error');
    assert.equal(refused.length, 4);
    for (const r of refused) {
      assert.ok(r?.packet.type === 'error' && r.packet.code === ErrorCode.NotDefined && r.packet.message === 'Server busy');
    }
    assert.equal(logger.count('request refused', 'warn'), 4);

    // Meanwhile another address is served, several files at once.
    const others = await Promise.all([fetchFile(port, 'file.bin'), fetchFile(port, 'file.bin')]);
    for (const r of others) assert.deepEqual(r.data, file);

    // The first address's transfers time out unacknowledged, and its slots come back.
    await until(() => server.activeTransfers === 0, 5000, 'unacknowledged transfers ended');
    const again = await TestClient.open(OTHER_HOST);
    try {
      again.send(rrq(), port);
      assert.equal((await again.next(2000))?.packet.type, 'data');
    } finally {
      again.close();
    }
  } finally {
    for (const c of clients) c.close();
    await server.stop();
  }
});

test('20,000 RRQs from one host that never acknowledges: the heap stays flat and other clients still fill the slots it cannot take', async (t) => {
  const logger = countingLogger();
  const CAP = 8;
  const PER_PEER = 4;
  const server = new TftpServer({ address: '127.0.0.1', port: 0, root: dir, maxTransfers: CAP, logger });
  await server.start();
  const port = server.address().port;
  const seen = (): number => logger.count('request refused') + logger.count('transfer started');
  const request = rrq([{ name: 'blksize', value: '1468' }]);
  try {
    await floodUdp({ port, count: 2000, packet: () => request, seen, from: OTHER_HOST });
    const baseline = await settledHeapUsed();
    const flood = floodUdp({ port, count: 20_000, packet: () => request, seen, from: OTHER_HOST });
    // While the flood holds its slots, the rest of the cap serves other clients.
    const legit = (async () => {
      await until(() => server.activeTransfers >= PER_PEER, 10_000, 'the flood took its slots');
      const results = await Promise.all(Array.from({ length: CAP - PER_PEER }, () => fetchFile(port, 'file.bin')));
      for (const r of results) {
        assert.equal(r.error, undefined, r.error?.message);
        assert.deepEqual(r.data, file);
      }
    })();
    const [r] = await Promise.all([flood, legit]);
    const floodEnded = Date.now();
    await until(() => server.activeTransfers === 0, 10_000, 'the flood\'s transfers ended');
    const heldMs = Date.now() - floodEnded;
    const after = await settledHeapUsed();
    t.diagnostic(`one-host flood: ${r.sent} RRQs in ${r.ms} ms, ${r.replies} replies, ${logger.count('transfer started')} transfers started, ` +
      `slots free ${heldMs} ms after its last RRQ; heap ${((after - baseline) / MiB).toFixed(2)} MiB over baseline (gc: ${canCollectGarbage})`);
    assert.ok(logger.count('request refused') >= 20_000 * 0.9, 'the flood was refused, not served');
    assert.ok(after - baseline < (canCollectGarbage ? 8 * MiB : 48 * MiB), `heap grew ${((after - baseline) / MiB).toFixed(1)} MiB`);
    assert.equal(logger.total('error'), 0, 'no handler failures');
  } finally {
    await server.stop();
  }
});
