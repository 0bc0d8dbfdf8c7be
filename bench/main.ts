import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../src/files/atomic-write.js';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { run } from '../src/process/run.js';
import { bootBenchmark } from './boot.js';
import { dhcpBenchmark } from './dhcp.js';
import { dhcpSharedBenchmark } from './dhcp-shared.js';
import { httpBenchmark } from './http.js';
import { initrdBenchmark } from './initrd.js';
import type { Benchmark } from './lib/context.js';
import { BenchNet } from './lib/net.js';
import { formatTable, ratio, type BenchResult } from './lib/result.js';
import { FULL, QUICK } from './lib/scale.js';
import { nbdBenchmark } from './nbd.js';
import { tftpBenchmark } from './tftp.js';
import { stormBenchmark } from './storm.js';

const BENCHMARKS: Benchmark[] = [tftpBenchmark, httpBenchmark, nbdBenchmark, dhcpBenchmark, dhcpSharedBenchmark, initrdBenchmark, bootBenchmark, stormBenchmark];
const RESULTS = fileURLToPath(new URL('../../bench/results', import.meta.url));

const HELP = `Usage: sudo bench/run.sh [--quick] [--only NAME[,NAME]] [--skip NAME[,NAME]] [--repeats N]

Runs Diskless and its peers side by side on this host, in two network namespaces joined by a
veth, and prints ours / peer for each case. --quick runs everything small (seconds per case);
without it, at full scale: tens of clients at once, 5,000 DHCP clients (minutes per case).
--repeats N runs each (server, case) N times instead of the scale's 3 (quick) or 5 (full).
Benchmarks: ${BENCHMARKS.map((b) => b.name).join(', ')}; all of them by default. "boot" starts QEMU
machines (TCG): give the run the machine to itself, or --skip boot. "storm" replays recorded
boots (bench/storm/traces/) of 10 to 1,000 nodes at once against both stacks on a capped link.
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean' }, only: { type: 'string' }, skip: { type: 'string' }, repeats: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: must run as root (network namespaces)\n');
    return 2;
  }
  const repeats = values.repeats === undefined ? undefined : Number(values.repeats);
  if (repeats !== undefined && (!Number.isInteger(repeats) || repeats < 1 || repeats > 20)) {
    process.stderr.write(`bench: --repeats must be a whole number, 1 to 20 (got "${values.repeats}")\n\n${HELP}`);
    return 2;
  }
  const scale = { ...(values.quick ? QUICK : FULL), ...(repeats === undefined ? {} : { repeats }) };
  const only = values.only?.split(',').filter(Boolean);
  const skip = new Set(values.skip?.split(',').filter(Boolean) ?? []);
  for (const n of [...(only ?? []), ...skip]) {
    if (!BENCHMARKS.some((b) => b.name === n)) {
      process.stderr.write(`bench: no benchmark "${n}"\n\n${HELP}`);
      return 2;
    }
  }
  const selected = BENCHMARKS.filter((b) => (only ? only.includes(b.name) : true) && !skip.has(b.name));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const startedAt = new Date();
  const results: BenchResult[] = [];
  const errors: Record<string, string> = {};
  await mkdir(RESULTS, { recursive: true });
  const file = join(RESULTS, `${startedAt.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z')}${scale.name === 'quick' ? '-quick' : ''}.json`);
  const host = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: (await run(['uname', '-r'])).stdout.trim(),
    node: process.version,
    loadavg: (await run(['cat', '/proc/loadavg'])).stdout.trim(),
  };
  const done: string[] = [];
  // Saved after every benchmark: a run stopped in its last hour keeps what it measured before.
  const save = (finished: boolean) => writeFileAtomic(file, JSON.stringify({
    startedAt: startedAt.toISOString(),
    ...(finished ? { finishedAt: new Date().toISOString() } : { unfinished: `stopped or still running after: ${done.join(', ')}` }),
    scale,
    host,
    results: results.map((r) => ({ ...r, ratio: ratio(r) })),
    errors,
  }, null, 2) + '\n');
  const top = await mkdtemp(join(tmpdir(), 'diskless-bench-'));
  let net: BenchNet | undefined;
  try {
    for (const b of selected) {
      log(`== ${b.name} (${scale.name} scale)`);
      const work = join(top, b.name);
      await mkdir(work, { recursive: true });
      try {
        if (b.network && net === undefined) net = await BenchNet.create();
        results.push(...(await b.run({ net: net!, work, scale, log, resultsFile: file })));
      } catch (e) {
        errors[b.name] = (e as Error).message;
        log(`  ${b.name} FAILED: ${(e as Error).message}`);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
      done.push(b.name);
      await save(false);
    }
  } finally {
    await net?.destroy();
    await rm(top, { recursive: true, force: true });
  }
  process.stdout.write(`\nDiskless vs peers, ${scale.name} scale, ${startedAt.toISOString()}\n`);
  process.stdout.write(`ratio = ours / peer, medians (rounds: ${scale.repeats} for tftp/http/nbd/dhcp, initrd ${scale.name === 'quick' ? 1 : 3}, boot ${scale.name === 'quick' ? 2 : 3}; every run is in the JSON)\n\n`);
  process.stdout.write(`${formatTable(results)}\n`);
  for (const [b, e] of Object.entries(errors)) process.stdout.write(`\n${b}: FAILED: ${e}\n`);
  await save(true);
  process.stdout.write(`\nwritten to ${file}\n`);
  return Object.keys(errors).length === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
