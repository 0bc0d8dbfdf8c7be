import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countingLogger } from '../../testing/counting-logger.js';
import { encodeAck, encodeTftpPacket } from './encode.js';
import { ErrorCode } from './packet.js';
import { TftpServer } from './server.js';
import { fetchFile, TestClient, type From } from './testdata/udp-client.js';

let dir = '';
const file = randomBytes(5 * 512 + 100); // six blocks: a transfer stays open until its ACKs come

before(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'tftp-cap-')));
  await writeFile(join(dir, 'file.bin'), file);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rrq = encodeTftpPacket({ type: 'rrq', filename: 'file.bin', mode: 'octet', options: [] });

/** Acknowledges block after block from `tid` until the short last block; returns the bytes. */
async function readToEnd(client: TestClient, first: Buffer, tid: From): Promise<Buffer> {
  const chunks = [first];
  client.send(encodeAck(1), tid.port);
  for (let block = 2; ; block++) {
    const n = await client.next(2000);
    assert.ok(n?.packet.type === 'data' && n.packet.block === block, `block ${block}`);
    chunks.push(Buffer.from(n.packet.data));
    client.send(encodeAck(block), tid.port);
    if (n.packet.data.length < 512) return Buffer.concat(chunks);
  }
}

for (const cap of [1, 3]) {
  test(`maxTransfers ${cap}: of ${cap} + 4 simultaneous requests exactly ${cap} are served, the rest get ERROR 0, and finished transfers free their slots`, async () => {
    const logger = countingLogger();
    const server = new TftpServer({ address: '127.0.0.1', port: 0, root: dir, maxTransfers: cap, timeoutMs: 300, retries: 1, logger });
    await server.start();
    const port = server.address().port;
    const clients = await Promise.all(Array.from({ length: cap + 4 }, () => TestClient.open()));
    try {
      for (const c of clients) c.send(rrq, port);
      const firsts = await Promise.all(clients.map((c) => c.next(2000)));
      const served = clients.flatMap((c, i) => (firsts[i]?.packet.type === 'data' ? [{ client: c, first: firsts[i]! }] : []));
      const refused = firsts.filter((f) => f?.packet.type === 'error');
      assert.equal(served.length, cap);
      assert.equal(refused.length, 4);
      for (const r of refused) {
        assert.ok(r?.packet.type === 'error' && r.packet.code === ErrorCode.NotDefined && r.packet.message === 'Server busy');
        assert.equal(r.from.port, port);
      }
      assert.equal(server.activeTransfers, cap);
      assert.equal(logger.count('request refused', 'warn'), 4);

      // Slots come back however a transfer ends: read to the end, abandoned by the client with
      // an ERROR, or left to time out.
      const ends = served.map(async ({ client, first }, i) => {
        const data = first.packet.type === 'data' ? Buffer.from(first.packet.data) : Buffer.alloc(0);
        if (i % 3 === 0) assert.deepEqual(await readToEnd(client, data, first.from), file);
        else if (i % 3 === 1) client.sendPacket({ type: 'error', code: 0, message: 'changed my mind' }, first.from.port);
        // else: silence until the server gives up (300 ms, one retransmission)
      });
      await Promise.all(ends);
      const deadline = Date.now() + 3000;
      while (server.activeTransfers > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(server.activeTransfers, 0);

      const again = await Promise.all(Array.from({ length: cap }, () => fetchFile(port, 'file.bin')));
      for (const r of again) assert.deepEqual(r.data, file, 'a freed slot serves a client');
      assert.equal(server.activeTransfers, 0);
    } finally {
      for (const c of clients) c.close();
      await server.stop();
    }
  });
}
