import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import type { Benchmark, BenchContext } from './lib/context.js';
import { compare } from './lib/compare.js';
import { SERVER, type BenchNet } from './lib/net.js';
import { startDnsmasqDhcp, startOurs } from './lib/servers.js';

export interface PerfdhcpRun {
  rate: number;
  drops: number;
}

/** Parses perfdhcp's summary: "Rate: 812.3 4-way exchanges/second" and the drop counters. */
export function parsePerfdhcp(out: string): PerfdhcpRun {
  const rate = /Rate:\s*([\d.]+)\s*4-way exchanges\/second/.exec(out);
  if (rate === null) throw new Error(`Cannot read perfdhcp output: ${out.slice(-500)}`);
  const drops = [...out.matchAll(/drops:\s*(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
  return { rate: Number(rate[1]), drops };
}

/**
 * perfdhcp's avalanche scenario: `clients` simulated MACs each send DISCOVER at once and
 * retransmit with back-off until the full DORA exchange is done; the rate is clients / total
 * time. (A fixed offered rate above capacity only measures how each server collapses under
 * drops; the avalanche measures what it sustains.) Broadcast flag set: the MACs are not the
 * interface's own, so a unicast reply could not reach perfdhcp.
 */
async function dora(net: BenchNet, clients: number, log: (l: string) => void): Promise<number> {
  const r = await net.client(
    ['perfdhcp', '-4', '-l', 'eth0', '-B', '-R', String(clients), '--scenario', 'avalanche', SERVER],
    { timeoutMs: 900_000, check: false },
  );
  const run = parsePerfdhcp(r.stdout + r.stderr);
  if (run.drops > 0) log(`    perfdhcp: ${run.drops} drops (retransmitted)`);
  return run.rate;
}

export const dhcpBenchmark: Benchmark = {
  name: 'dhcp',
  network: true,
  async run({ net, work, scale, log }: BenchContext) {
    // Each start begins from an empty lease table, so every round measures the same thing.
    const fresh = async (dir: string): Promise<string> => {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      return dir;
    };
    return compare({
      bench: 'dhcp',
      net,
      ours: { name: 'diskless', start: async () => startOurs(net, await fresh(join(work, 'ours')), { filesDir: work, dhcp: true }) },
      peers: [{ name: 'dnsmasq', start: async () => startDnsmasqDhcp(net, await fresh(join(work, 'dnsmasq'))) }],
      cases: [scale.dhcpClients, scale.dhcpLargeClients].map((clients) => ({
        name: `perfdhcp avalanche DORA, ${clients} clients, leases persisted`,
        link: 'veth' as const,
        unit: 'exchanges/s',
        better: 'higher' as const,
        measure: () => dora(net, clients, log),
      })),
      repeats: scale.repeats,
      log,
    });
  },
};
