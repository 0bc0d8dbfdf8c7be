import { join } from 'node:path';
import type { Benchmark, BenchContext } from './lib/context.js';
import { compare } from './lib/compare.js';
import { makeRandomFile } from './lib/files.js';
import { SERVER, timed, type BenchNet } from './lib/net.js';
import { NBD_EXPORT, PORTS, startNbdkit, startNbdServer, startOurs } from './lib/servers.js';

const MB = 1048576;
const URI = `nbd://${SERVER}:${PORTS.nbd}/${NBD_EXPORT}`;

/** nbdcopy of the whole export to null: over one connection, 1 MiB requests (64 in flight, its default). */
async function sequential(net: BenchNet, bytes: number): Promise<number> {
  const { seconds } = await timed(() => net.client(['nbdcopy', '--connections=1', '--request-size=1048576', URI, 'null:'], { timeoutMs: 600_000 }));
  return bytes / MB / seconds;
}

/**
 * Random aligned 4 KiB reads over one connection through libnbd (nbdsh), `depth` in flight;
 * prints reads per second, timed after the handshake. The seed is fixed so every server
 * reads the same offsets.
 */
const RANDOM_READER = `
import random, time
n = int(N); depth = int(DEPTH)
blocks = h.get_size() // 4096
rng = random.Random(1)
done = 0
def cb(err):
    global done
    done += 1
    return 1
t = time.monotonic()
if depth == 1:
    for _ in range(n):
        h.pread(4096, rng.randrange(blocks) * 4096)
else:
    issued = 0
    while done < n:
        while issued < n and h.aio_in_flight() < depth:
            h.aio_pread(nbd.Buffer(4096), rng.randrange(blocks) * 4096, completion=cb)
            issued += 1
        h.poll(-1)
print(n / (time.monotonic() - t))
`;

async function random(net: BenchNet, reads: number, depth: number): Promise<number> {
  const script = RANDOM_READER.replace('int(N)', String(reads)).replace('int(DEPTH)', String(depth));
  // nbdsh is `python3 -m nbd`; Debian's python3 by path, since PATH may hold another without libnbd.
  const r = await net.client(['/usr/bin/python3', '-m', 'nbd', '-u', URI, '-c', script], { timeoutMs: 600_000 });
  const v = Number(r.stdout.trim().split('\n').at(-1));
  if (!Number.isFinite(v)) throw new Error(`Cannot read nbdsh output: ${r.stdout} ${r.stderr}`);
  return v;
}

export const nbdBenchmark: Benchmark = {
  name: 'nbd',
  network: true,
  async run({ net, work, scale, log }: BenchContext) {
    const image = join(work, 'image.bin');
    await makeRandomFile(image, scale.nbdImageMB);
    const bytes = scale.nbdImageMB * MB;
    const n = scale.nbdRandomReads;
    return compare({
      bench: 'nbd',
      net,
      ours: { name: 'diskless', start: () => startOurs(net, join(work, 'ours'), { filesDir: work, nbdImage: image }) },
      peers: [
        { name: 'nbd-server', start: () => startNbdServer(net, work, image) },
        { name: 'nbdkit', start: () => startNbdkit(net, work, image) },
      ],
      cases: [
        { name: `nbdcopy ${scale.nbdImageMB} MiB, 1 conn, 1 MiB requests`, link: 'veth', unit: 'MB/s', better: 'higher', measure: () => sequential(net, bytes) },
        { name: `nbdcopy ${scale.nbdImageMB} MiB, 1 conn, 1 MiB requests`, link: 'tbf 1gbit', unit: 'MB/s', better: 'higher', measure: () => sequential(net, bytes) },
        { name: `${n} random 4 KiB reads, queue depth 1`, link: 'veth', unit: 'reads/s', better: 'higher', measure: () => random(net, n, 1) },
        { name: `${n} random 4 KiB reads, queue depth 32`, link: 'veth', unit: 'reads/s', better: 'higher', measure: () => random(net, n, 32) },
      ],
      // Both kinds of request once: a boot server runs for weeks, and V8 compiles the small-read
      // path only after it ran; on a loaded machine its compiler thread can lag by seconds.
      warmup: async () => {
        await sequential(net, bytes);
        await random(net, Math.min(n, 2000), 1);
      },
      repeats: scale.repeats,
      log,
    });
  },
};
