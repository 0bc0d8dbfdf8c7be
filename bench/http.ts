import { join } from 'node:path';
import type { Benchmark, BenchContext } from './lib/context.js';
import { compare } from './lib/compare.js';
import { makeRandomFile, servedFilesDir } from './lib/files.js';
import { SERVER, timed, type BenchNet } from './lib/net.js';
import { PORTS, startNginx, startOurs } from './lib/servers.js';
import { bootUrl, httpBaseUrl } from '../src/boot/urls.js';

const MB = 1048576;
/** The benchmarked file on the HTTP listener under test (ours or nginx, on the same address and port). */
const fileUrl = (file: string) => bootUrl(httpBaseUrl({ address: SERVER, httpPort: PORTS.http }), file);

/** n concurrent curl downloads of the same file; returns aggregate MB/s. Each checks its size. */
async function downloads(net: BenchNet, n: number, file: string, bytes: number): Promise<number> {
  const url = fileUrl(file);
  const one = async (): Promise<void> => {
    const r = await net.client(['curl', '-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download}', url], { timeoutMs: 900_000 });
    if (Number(r.stdout.trim()) !== bytes) throw new Error(`Cannot accept download: ${r.stdout.trim()} bytes, expected ${bytes}`);
  };
  const { seconds } = await timed(() => Promise.all(Array.from({ length: n }, one)));
  return (n * bytes) / MB / seconds;
}

export const httpBenchmark: Benchmark = {
  name: 'http',
  network: true,
  async run({ net, work, scale, log }: BenchContext) {
    const files = await servedFilesDir(work);
    const file = 'root.img';
    await makeRandomFile(join(files, file), scale.httpFileMB);
    const bytes = scale.httpFileMB * MB;
    const n = scale.httpClients;
    const name = `${n} concurrent curl x ${scale.httpFileMB} MB`;
    return compare({
      bench: 'http',
      net,
      ours: { name: 'diskless', start: () => startOurs(net, join(work, 'ours'), { filesDir: files }) },
      peers: [{ name: 'nginx', start: () => startNginx(net, work, files) }],
      cases: [
        { name: `1 curl x ${scale.httpFileMB} MB`, link: 'veth', unit: 'MB/s', better: 'higher', measure: () => downloads(net, 1, file, bytes) },
        { name, link: 'veth', unit: 'MB/s total', better: 'higher', measure: () => downloads(net, n, file, bytes) },
        { name, link: 'tbf 1gbit', unit: 'MB/s total', better: 'higher', measure: () => downloads(net, n, file, bytes) },
      ],
      warmup: () => net.client(['curl', '-sS', '--fail', '-o', '/dev/null', fileUrl(file)]),
      repeats: scale.repeats,
      log,
    });
  },
};
