// An export served through the block cache (src/files/block-cache.ts), read by libnbd's
// nbdcopy (Debian libnbd-bin): the first copy fills the cache, the second is answered from
// memory; both must be the file's bytes exactly, with requests that span several blocks and a
// short last block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockCache } from '../../files/block-cache.js';
import { run } from '../../process/run.js';
import type { NbdExport, NbdExportProvider } from './exports.js';
import { fileExport, type FileExport } from './file-export.js';
import { NbdServer } from './server.js';

const MiB = 1024 * 1024;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('nbdcopy through a cached export: exact bytes on a miss and on a hit; a replaced image is served fresh', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nbd-cached-'));
  const image = join(dir, 'root.img');
  const first = randomBytes(8 * MiB + 4096 * 3);
  await writeFile(image, first);
  const cache = new BlockCache({ maxBytes: 64 * MiB });
  const opened: FileExport[] = [];
  // Opens the image anew for each connection, as the server's image exports do when it changed.
  const exports: NbdExportProvider = {
    open: async (name): Promise<NbdExport | undefined> => {
      if (name !== 'root') return undefined;
      const exp = await fileExport(image, undefined, cache);
      opened.push(exp);
      return exp;
    },
    list: async () => ['root'],
  };
  const server = new NbdServer({ address: '127.0.0.1', port: 0, exports });
  await server.start();
  t.after(async () => {
    await server.stop();
    for (const e of opened) await e.close();
    await rm(dir, { recursive: true, force: true });
  });
  const uri = `nbd://127.0.0.1:${server.address().port}/root`;
  const copy = async (requestSize: number): Promise<Buffer> => {
    const out = join(dir, `out-${requestSize}`);
    await run(['nbdcopy', '--connections=1', `--request-size=${requestSize}`, uri, out], { timeoutMs: 120_000 });
    return readFile(out);
  };

  // Each 256 KiB request spans two 128 KiB blocks; the image ends 12 KiB into its last block.
  assert.equal(sha256(await copy(256 * 1024)), sha256(first));
  const filled = cache.stats();
  assert.ok(filled.misses > 0);
  assert.equal(filled.bytes, first.length, 'the whole image is held once');
  assert.equal(sha256(await copy(MiB)), sha256(first));
  const after = cache.stats();
  assert.equal(after.misses, filled.misses, 'the second copy read nothing from the file');
  assert.ok(after.hits >= filled.hits + 8);

  const second = randomBytes(first.length);
  await writeFile(join(dir, 'new.img'), second);
  await rename(join(dir, 'new.img'), image);
  assert.equal(sha256(await copy(MiB)), sha256(second));
});
