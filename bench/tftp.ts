import { join } from 'node:path';
import type { Benchmark, BenchContext } from './lib/context.js';
import type { Case } from './lib/compare.js';
import { compare } from './lib/compare.js';
import { checkAndRemove, makeRandomFile, servedFilesDir } from './lib/files.js';
import { SERVER, timed, type BenchNet } from './lib/net.js';
import { PORTS, startDnsmasqTftp, startOurs, startTftpdHpa } from './lib/servers.js';

const MB = 1048576;
/** Downloads land in tmpfs so the client's disk never limits the rate. */
const OUT = '/dev/shm';

function atftp(net: BenchNet, file: string, out: string, options: string[]): Promise<unknown> {
  const opts = options.flatMap((o) => ['--option', o]);
  return net.client(['atftp', ...opts, '-g', '-r', file, '-l', out, SERVER, String(PORTS.tftp)], { timeoutMs: 600_000 });
}

/** tftp-hpa's client negotiates no options: 512-byte blocks, one in flight. */
function tftpHpa(net: BenchNet, file: string, out: string): Promise<unknown> {
  return net.client(['tftp', '-m', 'binary', SERVER, String(PORTS.tftp), '-c', 'get', file, out], { timeoutMs: 600_000 });
}

async function one(net: BenchNet, fetch: (out: string) => Promise<unknown>, bytes: number): Promise<number> {
  const out = join(OUT, `bench-tftp-${process.pid}-${Math.random().toString(16).slice(2)}`);
  const { seconds } = await timed(() => fetch(out));
  await checkAndRemove(out, bytes);
  return bytes / MB / seconds;
}

async function many(net: BenchNet, n: number, file: string, bytes: number): Promise<number> {
  const outs = Array.from({ length: n }, (_, i) => join(OUT, `bench-tftp-${process.pid}-c${i}`));
  const { seconds } = await timed(() => Promise.all(outs.map((o) => atftp(net, file, o, ['blksize 1468']))));
  for (const o of outs) await checkAndRemove(o, bytes);
  return (n * bytes) / MB / seconds;
}

export const tftpBenchmark: Benchmark = {
  name: 'tftp',
  network: true,
  async run({ net, work, scale, log }: BenchContext) {
    const files = await servedFilesDir(work);
    const big = 'big.bin';
    const initrd = 'initrd.img';
    await makeRandomFile(join(files, big), scale.tftpFileMB);
    await makeRandomFile(join(files, initrd), scale.tftpConcurrentFileMB);
    const bigBytes = scale.tftpFileMB * MB;
    const initrdBytes = scale.tftpConcurrentFileMB * MB;
    const n = scale.tftpConcurrentClients;
    const cases: Case[] = [
      { name: `${scale.tftpFileMB} MB, tftp-hpa client (blksize 512, no options)`, link: 'veth', unit: 'MB/s', better: 'higher', measure: () => one(net, (o) => tftpHpa(net, big, o), bigBytes) },
      { name: `${scale.tftpFileMB} MB, atftp blksize 1468`, link: 'veth', unit: 'MB/s', better: 'higher', measure: () => one(net, (o) => atftp(net, big, o, ['blksize 1468']), bigBytes) },
      {
        name: `${scale.tftpFileMB} MB, atftp blksize 1468 windowsize 16`, link: 'veth', unit: 'MB/s', better: 'higher',
        measure: () => one(net, (o) => atftp(net, big, o, ['blksize 1468', 'windowsize 16']), bigBytes),
        note: 'tftpd-hpa and dnsmasq do not implement RFC 7440 windowsize; they ignore the option and send one block per ACK',
      },
      { name: `${n} clients x ${scale.tftpConcurrentFileMB} MB initrd, atftp blksize 1468`, link: 'veth', unit: 'MB/s total', better: 'higher', measure: () => many(net, n, initrd, initrdBytes) },
      { name: `${n} clients x ${scale.tftpConcurrentFileMB} MB initrd, atftp blksize 1468`, link: 'tbf 1gbit', unit: 'MB/s total', better: 'higher', measure: () => many(net, n, initrd, initrdBytes) },
    ];
    return compare({
      bench: 'tftp',
      net,
      ours: { name: 'diskless', start: () => startOurs(net, join(work, 'ours'), { filesDir: files }) },
      peers: [
        { name: 'tftpd-hpa', start: () => startTftpdHpa(net, files) },
        { name: 'dnsmasq', start: () => startDnsmasqTftp(net, work, files) },
      ],
      cases,
      warmup: () => atftp(net, initrd, '/dev/null', ['blksize 1468']),
      repeats: scale.repeats,
      log,
    });
  },
};
