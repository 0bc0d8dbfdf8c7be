import { open, mkdir, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { randomFillSync } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../src/process/run.js';
import type { Benchmark, BenchContext } from './lib/context.js';
import { servedFilesDir } from './lib/files.js';
import { SERVER, type BenchNet, type Link } from './lib/net.js';
import { median, type BenchResult } from './lib/result.js';
import { NBD_EXPORT, PORTS, startDnsmasqDhcpTftp, startNbdServer, startNginx, startOurs, type Server } from './lib/servers.js';
import { stormSvg, type PlotSeries } from './storm/plot.js';
import type { ReplayJob, ReplayResult } from './storm/replay-client.js';
import type { BootTrace } from './storm/trace.js';

const TRACES = fileURLToPath(new URL('../../bench/storm/traces', import.meta.url));
const REPLAY_CLIENT = fileURLToPath(new URL('./storm/replay-client.js', import.meta.url));
const LINKS: Link[] = ['tbf 1gbit', 'tbf 10gbit'];
const CLK_TCK = 100;

/** Writes `bytes` random bytes (incompressible), unless the file already has that size. */
async function randomFile(path: string, bytes: number): Promise<void> {
  const f = await open(path, 'w', 0o644);
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let done = 0; done < bytes; ) {
      const n = Math.min(chunk.length, bytes - done);
      randomFillSync(chunk, 0, n);
      await f.write(chunk, 0, n);
      done += n;
    }
  } finally {
    await f.close();
  }
}

/** The files a trace asks for, of the recorded sizes, and how recorded names map onto them. */
async function prepare(trace: BootTrace, files: string): Promise<{ httpPaths: Record<string, string>; tftpFiles: Record<string, string>; nbdImage?: string }> {
  const httpPaths: Record<string, string> = {};
  const tftpFiles: Record<string, string> = {};
  const sizes = new Map<string, number>();
  let nbdBytes = 0;
  for (const s of trace.steps) {
    if (s.kind === 'http' && s.method === 'GET' && !s.tls && s.status === 200) {
      const key = s.path.split('?')[0]!;
      const name = httpPaths[key] ?? `h${Object.keys(httpPaths).length}.bin`;
      httpPaths[key] = name;
      sizes.set(name, Math.max(sizes.get(name) ?? 0, s.bytes));
    } else if (s.kind === 'tftp') {
      const name = tftpFiles[s.file] ?? `t${Object.keys(tftpFiles).length}.bin`;
      tftpFiles[s.file] = name;
      sizes.set(name, Math.max(sizes.get(name) ?? 0, s.bytes));
    } else if (s.kind === 'nbd') {
      for (const [, off, len] of s.reads) nbdBytes = Math.max(nbdBytes, off + len);
    }
  }
  for (const [name, bytes] of sizes) await randomFile(join(files, name), bytes);
  for (const k of Object.keys(httpPaths)) httpPaths[k] = `/${httpPaths[k]}`;
  if (nbdBytes === 0) return { httpPaths, tftpFiles };
  const nbdImage = join(files, 'nbd.img');
  await randomFile(nbdImage, Math.ceil(nbdBytes / 1048576) * 1048576);
  return { httpPaths, tftpFiles, nbdImage };
}

/** CPU seconds and peak resident memory of every process in the server namespace, sampled. */
class NsSampler {
  readonly #ticks = new Map<number, number>();
  #base = 0;
  peakRssKiB = 0;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  constructor(private readonly ns: string) {}
  async #sample(): Promise<number> {
    const pids = (await run(['ip', 'netns', 'pids', this.ns], { check: false })).stdout.split('\n').map(Number).filter((n) => n > 0);
    let rss = 0;
    for (const pid of pids) {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, cutime, cstime: fields 14–17 of stat(5), 12–15 after "pid (comm) ".
      if (f.length > 15) this.#ticks.set(pid, Math.max(this.#ticks.get(pid) ?? 0, Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])));
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    }
    this.peakRssKiB = Math.max(this.peakRssKiB, rss);
    return [...this.#ticks.values()].reduce((a, b) => a + b, 0);
  }
  async start(): Promise<void> {
    this.#base = await this.#sample();
    this.peakRssKiB = 0;
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      void this.#sample().finally(() => (this.#busy = false));
    }, 250);
  }
  async stop(): Promise<number> {
    clearInterval(this.#timer);
    while (this.#busy) await new Promise((r) => setTimeout(r, 20));
    return ((await this.#sample()) - this.#base) / CLK_TCK;
  }
}

interface StormRun { stack: string; mode: string; link: Link; nodes: number; seconds: number | null; booted: number; bytes: number; cpuSeconds: number; peakRssMiB: number; dhcpRetransmits: number; errors: string[] }

async function storm(net: BenchNet, work: string, job: Omit<ReplayJob, 'nodes'>, nodes: number, start: () => Promise<Server>, stack: string, link: Link, log: (l: string) => void): Promise<StormRun> {
  const server = await start();
  const sampler = new NsSampler(net.serverNs);
  try {
    const jobFile = join(work, `job-${nodes}.json`);
    await writeFile(jobFile, JSON.stringify({ ...job, nodes }));
    await sampler.start();
    const t0 = Date.now();
    const r = await net.client([process.execPath, REPLAY_CLIENT, jobFile], { timeoutMs: 3_600_000, check: false });
    const wall = (Date.now() - t0) / 1000;
    const cpuSeconds = await sampler.stop();
    let result: ReplayResult;
    try {
      result = JSON.parse(r.stdout) as ReplayResult;
    } catch {
      throw new Error(`Cannot read the replay's result: ${(r.stderr || r.stdout).slice(-500)}`);
    }
    const booted = result.bootedMs.filter((x): x is number => x !== null);
    const seconds = booted.length === nodes ? Math.max(...booted) / 1000 : null;
    const out: StormRun = { stack, mode: job.trace.mode, link, nodes, seconds, booted: booted.length, bytes: result.bytes, cpuSeconds, peakRssMiB: sampler.peakRssKiB / 1024, dhcpRetransmits: result.dhcpRetransmits, errors: result.errors };
    log(`    ${stack}: ${nodes} nodes ${seconds === null ? `FAILED (${booted.length} booted; ${result.errors.slice(0, 3).join('; ')})` : `${seconds.toFixed(1)} s`} (replay ${wall.toFixed(1)} s), ${(result.bytes / 1e6).toFixed(0)} MB, server CPU ${cpuSeconds.toFixed(1)} s, peak RSS ${out.peakRssMiB.toFixed(0)} MiB, ${result.dhcpRetransmits} DHCP retransmits`);
    return out;
  } finally {
    await sampler.stop().catch(() => 0);
    await server.stop();
  }
}

export const stormBenchmark: Benchmark = {
  name: 'storm',
  network: true,
  async run({ net, work, scale, log, resultsFile }: BenchContext) {
    const traces: BootTrace[] = [];
    for (const f of (await readdir(TRACES).catch(() => [])).filter((n) => n.endsWith('.json')).sort()) {
      traces.push(JSON.parse(await readFile(join(TRACES, f), 'utf8')) as BootTrace);
    }
    if (traces.length === 0) throw new Error(`Cannot run the storm: no traces in ${TRACES} (record one: node dist/bench/storm-record.js live)`);
    // A limited broadcast needs a route in the client namespace, which has no default route.
    await net.client(['ip', 'route', 'replace', '255.255.255.255/32', 'dev', 'eth0']);
    // One source address per node, outside the DHCP pool (which ends at 10.77.250.250), so every
    // per-address cap and record sees N machines, as in a real storm, not one client.
    const most = Math.max(...scale.stormNodes);
    if (most > 4 * 250) throw new Error(`Cannot run a storm of ${most} nodes: at most 1,000 source addresses`);
    const sourceAddresses = Array.from({ length: most }, (_, i) => `10.77.${251 + Math.floor(i / 250)}.${1 + (i % 250)}`);
    const batch = join(work, 'addresses.ip');
    await writeFile(batch, sourceAddresses.map((a) => `addr add ${a}/16 dev eth0`).join('\n') + '\n');
    await net.client(['ip', '-batch', batch]);
    const results: BenchResult[] = [];
    const runs: StormRun[] = [];
    for (const trace of traces) {
      const files = await servedFilesDir(join(work, trace.mode));
      const prepared = await prepare(trace, files);
      const job = { sourceAddresses, server: SERVER, httpPort: PORTS.http, tftpPort: PORTS.tftp, nbdPort: PORTS.nbd, nbdExport: NBD_EXPORT, thinkScale: scale.stormThinkScale, trace, httpPaths: prepared.httpPaths, tftpFiles: prepared.tftpFiles };
      const fresh = async (dir: string) => { await rm(dir, { recursive: true, force: true }); await mkdir(dir, { recursive: true }); return dir; };
      const peerName = prepared.nbdImage ? 'dnsmasq+nginx+nbd-server' : 'dnsmasq+nginx';
      const ours = async () => startOurs(net, await fresh(join(work, 'ours')), { filesDir: files, dhcp: true, ...(prepared.nbdImage ? { nbdImage: prepared.nbdImage } : {}) });
      const reference = async (): Promise<Server> => {
        const dir = await fresh(join(work, 'ref'));
        const parts: Server[] = [];
        try {
          parts.push(await startDnsmasqDhcpTftp(net, dir, files));
          parts.push(await startNginx(net, dir, files));
          if (prepared.nbdImage) parts.push(await startNbdServer(net, dir, prepared.nbdImage));
        } catch (e) {
          for (const p of parts.reverse()) await p.stop();
          throw e;
        }
        return { name: peerName, stop: async () => { for (const p of parts.reverse()) await p.stop(); } };
      };
      for (const link of LINKS) {
        await net.setLink(link);
        for (const nodes of scale.stormNodes) {
          log(`  ${trace.mode} root, ${nodes} nodes, ${link}, think time x${scale.stormThinkScale}`);
          const mine: StormRun[] = [];
          const theirs: StormRun[] = [];
          for (let round = 0; round < scale.stormRepeats; round++) {
            // Alternate which stack goes first, so drift in the host's load falls on both.
            const order = round % 2 === 0 ? ['ours', 'ref'] as const : ['ref', 'ours'] as const;
            for (const who of order) {
              const r = await storm(net, join(work, trace.mode), job, nodes, who === 'ours' ? ours : reference, who === 'ours' ? 'diskless' : peerName, link, log).catch((e: unknown) => {
                log(`    ${who}: FAILED: ${e instanceof Error ? e.message : String(e)}`);
                return undefined;
              });
              if (r) (who === 'ours' ? mine : theirs).push(r);
            }
          }
          runs.push(...mine, ...theirs);
          const ok = (rs: StormRun[]) => rs.map((r) => r.seconds).filter((s): s is number => s !== null);
          const m = (rs: StormRun[], f: (r: StormRun) => number) => median(rs.map(f)) ?? 0;
          results.push({
            bench: 'storm', case: `${trace.mode} root, ${nodes} nodes, until the last is booted`, link, peer: peerName,
            ours: median(ok(mine)), peerValue: median(ok(theirs)), unit: 's', better: 'lower', oursRuns: ok(mine), peerRuns: ok(theirs),
            note: `think time x${scale.stormThinkScale}; median server CPU ${m(mine, (r) => r.cpuSeconds).toFixed(1)} s vs ${m(theirs, (r) => r.cpuSeconds).toFixed(1)} s, peak RSS ${m(mine, (r) => r.peakRssMiB).toFixed(0)} vs ${m(theirs, (r) => r.peakRssMiB).toFixed(0)} MiB, served ${(m(mine, (r) => r.bytes) / 1e9).toFixed(2)} vs ${(m(theirs, (r) => r.bytes) / 1e9).toFixed(2)} GB`,
          });
        }
      }
      await net.setLink('veth');
    }
    // Every run, and the plot, beside the results file.
    const base = resultsFile.replace(/\.json$/, '');
    await writeFile(`${base}-storm.json`, JSON.stringify({ thinkScale: scale.stormThinkScale, traces: traces.map((t) => ({ mode: t.mode, recordedMs: t.recordedMs, steps: t.steps.length, notes: t.notes })), runs }, null, 1) + '\n');
    const series: PlotSeries[] = [];
    let group = 0;
    for (const t of traces) for (const link of LINKS) for (const [k, stack] of [...new Set(runs.filter((r) => r.mode === t.mode).map((r) => r.stack))].entries()) {
      if (k === 0) group++;
      const points = scale.stormNodes.map((n) => ({ nodes: n, seconds: median(runs.filter((r) => r.mode === t.mode && r.link === link && r.stack === stack && r.nodes === n && r.seconds !== null).map((r) => r.seconds!)) ?? 0 }));
      series.push({ label: `${stack}, ${t.mode}, ${link.replace('tbf ', '')}`, points, dashed: stack !== 'diskless', group });
    }
    await writeFile(`${base}-storm.svg`, stormSvg(`Boot storm (${scale.name} scale, think time x${scale.stormThinkScale}): seconds until the last node is booted`, series));
    log(`  storm runs and plot: ${base}-storm.json, ${base}-storm.svg`);
    return results;
  },
};
