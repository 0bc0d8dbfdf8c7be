import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GREETING_BYTES } from './constants.js';
import type { NbdEvent } from './events.js';
import { bufferExport, staticExports } from './exports.js';
import { NbdServer } from './server.js';
import { RawClient } from './testdata/raw-client.js';
import { countingLogger } from '../../testing/counting-logger.js';
import { canCollectGarbage, MiB, settledHeapUsed } from '../../testing/heap.js';
import { run as runCommand } from '../../process/run.js';

/**
 * maxConnectionsPerPeer: one address cannot take every connection slot with connections that
 * never attach, or attach and then sit idle. 127.0.0.2 is that host; the real clients
 * (libnbd's nbdinfo and nbdcopy, Debian libnbd-bin) come from 127.0.0.1.
 */

const OTHER_HOST = '127.0.0.2';
const image = randomBytes(3 * 1024 * 1024 + 11);
const libnbd = ['nbdinfo', 'nbdcopy'].every((t) => existsSync(`/usr/bin/${t}`)) ? false : 'nbdinfo/nbdcopy not installed (Debian package libnbd-bin)';

async function run(cmd: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runCommand([cmd, ...args], { timeoutMs: 60_000, check: false });
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Condition not met in ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Connects from `from`; admitted means the server greeted rather than closing at once. */
async function knock(port: number, from: string): Promise<{ client: RawClient; admitted: boolean }> {
  const client = await RawClient.connect(port, '127.0.0.1', from);
  const admitted = await client.read(GREETING_BYTES).then(() => true, () => false);
  return { client, admitted };
}

test('idle and garbage connections from one address stop at maxConnectionsPerPeer; nbdinfo and nbdcopy from another address still attach and read', { skip: libnbd, timeout: 120_000 }, async (t) => {
  const CAP = 16;
  const PER_PEER = 4;
  const logger = countingLogger();
  // Counted, not kept: a list of 2000 events would be the heap growth the test looks for.
  const errors = new Map<string, number>();
  const server = new NbdServer({
    address: '127.0.0.1', port: 0, maxConnections: CAP, maxConnectionsPerPeer: PER_PEER,
    // Long enough that idle handshakes stay for the whole test: the cap, not the timeout, acts.
    handshakeTimeoutMs: 120_000,
    exports: staticExports({ root: bufferExport(image) }), logger,
    onEvent: (e: NbdEvent) => { if (e.type === 'error') errors.set(e.error ?? '', (errors.get(e.error ?? '') ?? 0) + 1); },
  });
  await server.start();
  const port = server.address().port;
  const held: RawClient[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'nbd-peer-'));
  try {
    // As many connections as the whole server allows, all from one address, none of them
    // doing anything useful: two attach and go idle, the rest never get past the greeting.
    const knocks = await Promise.all(Array.from({ length: CAP }, () => knock(port, OTHER_HOST)));
    held.push(...knocks.map((k) => k.client));
    const admitted = knocks.filter((k) => k.admitted).map((k) => k.client);
    assert.equal(admitted.length, PER_PEER, 'connections admitted from one address');
    for (const k of knocks.filter((x) => !x.admitted)) assert.ok(await k.client.closesWithin(2000), 'a refused connection is closed');
    for (const c of admitted.slice(0, 2)) {
      c.write(Buffer.from([0, 0, 0, 3]));
      assert.equal((await c.info('root')).final, 1);
    }
    assert.equal(server.connections, PER_PEER);
    assert.equal(errors.get(`too many connections from ${OTHER_HOST} (limit ${PER_PEER})`), CAP - PER_PEER);

    // Garbage from the same address while it is at its cap: refused on accept, nothing kept.
    const garbage = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i += 50) {
        await Promise.all(Array.from({ length: Math.min(50, n - i) }, async () => {
          const c = await RawClient.connect(port, '127.0.0.1', OTHER_HOST);
          c.write(randomBytes(64));
          await c.closed;
        }));
      }
    };
    await garbage(200);
    const baseline = await settledHeapUsed();
    const refusedBefore = logger.count('connection refused', 'warn');
    await garbage(2000);
    const after = await settledHeapUsed();
    t.diagnostic(`2000 connections from ${OTHER_HOST} at its cap: ${logger.count('connection refused', 'warn') - refusedBefore} refused; ` +
      `heap ${((after - baseline) / MiB).toFixed(2)} MiB over baseline (gc: ${canCollectGarbage}); ${server.connections} open`);
    assert.equal(logger.count('connection refused', 'warn') - refusedBefore, 2000);
    assert.equal(server.connections, PER_PEER);
    assert.ok(after - baseline < (canCollectGarbage ? 2 * MiB : 48 * MiB), `heap grew ${((after - baseline) / MiB).toFixed(1)} MiB`);

    // Real clients from another address: the slots that address could not take are theirs.
    const url = `nbd://127.0.0.1:${port}/root`;
    const size = await run('nbdinfo', ['--size', url]);
    assert.equal(size.code, 0, size.stderr);
    assert.equal(size.stdout.trim(), String(image.length));
    const out = join(dir, 'copy.img');
    const copy = await run('nbdcopy', [url, out]);
    assert.equal(copy.code, 0, copy.stderr);
    const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
    assert.equal(sha(await readFile(out)), sha(image));

    // The address gets its slots back as its connections close.
    for (const c of held) c.destroy();
    held.length = 0;
    await until(() => server.connections === 0, 5000, 'connections closed');
    const again = await knock(port, OTHER_HOST);
    held.push(again.client);
    assert.ok(again.admitted);
  } finally {
    for (const c of held) c.destroy();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
