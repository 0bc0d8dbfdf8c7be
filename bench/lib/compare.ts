import type { BenchResult } from './result.js';
import { median } from './result.js';
import type { BenchNet, Link } from './net.js';
import type { Server } from './servers.js';

/** Ours or a peer: how to start it in the server namespace. */
export interface Contender {
  name: string;
  start(): Promise<Server>;
}

/** One workload, run the same way against every contender. */
export interface Case {
  name: string;
  link: Link;
  unit: string;
  better: 'higher' | 'lower';
  /** Runs the workload once against whichever contender is up; returns the value in `unit`. */
  measure(contender: string): Promise<number>;
  note?: string;
}

export interface CompareOptions {
  bench: string;
  net: BenchNet;
  ours: Contender;
  peers: readonly Contender[];
  cases: readonly Case[];
  repeats: number;
  log: (line: string) => void;
  /**
   * Run once, unmeasured, after each start: a boot server runs for weeks, so what counts is
   * its steady state (for ours, after V8 has compiled the hot paths), not its first transfer.
   */
  warmup?: () => Promise<unknown>;
}

/**
 * Runs every case against every contender, `repeats` rounds. Each round starts each contender
 * afresh, in turn, so slow drift in the machine's load (other jobs share these 2 CPUs) spreads
 * over all contenders instead of falling on one. Contenders take the same ports one after
 * another, so clients are identical. A failed run is logged and left out.
 */
export async function compare(o: CompareOptions): Promise<BenchResult[]> {
  const all = [o.ours, ...o.peers];
  const runs = new Map<string, number[]>(); // `${contender}\0${case}`
  const key = (c: string, k: Case) => `${c}\0${k.name}\0${k.link}`;
  const failures = new Map<string, string>();
  for (let round = 1; round <= o.repeats; round++) {
    for (const contender of all) {
      let server: Server;
      try {
        server = await contender.start();
      } catch (e) {
        o.log(`  ${contender.name}: cannot start: ${(e as Error).message}`);
        continue;
      }
      try {
        await o.warmup?.();
        for (const c of o.cases) {
          await o.net.setLink(c.link);
          try {
            const v = await c.measure(contender.name);
            const list = runs.get(key(contender.name, c)) ?? [];
            list.push(v);
            runs.set(key(contender.name, c), list);
            o.log(`  round ${round} ${contender.name.padEnd(10)} ${c.name} [${c.link}]: ${v.toFixed(3)} ${c.unit}`);
          } catch (e) {
            const msg = (e as Error).message.split('\n')[0] ?? '';
            failures.set(key(contender.name, c), msg);
            o.log(`  round ${round} ${contender.name.padEnd(10)} ${c.name} [${c.link}]: FAILED ${msg}`);
          }
        }
      } finally {
        await server.stop();
        await o.net.setLink('veth');
      }
    }
  }
  const results: BenchResult[] = [];
  for (const peer of o.peers) {
    for (const c of o.cases) {
      const oursRuns = runs.get(key(o.ours.name, c)) ?? [];
      const peerRuns = runs.get(key(peer.name, c)) ?? [];
      const notes = [c.note, failures.get(key(o.ours.name, c)) && `ours failed: ${failures.get(key(o.ours.name, c))}`, failures.get(key(peer.name, c)) && `${peer.name} failed: ${failures.get(key(peer.name, c))}`].filter(Boolean);
      results.push({
        bench: o.bench,
        case: c.name,
        link: c.link,
        peer: peer.name,
        ours: median(oursRuns),
        peerValue: median(peerRuns),
        unit: c.unit,
        better: c.better,
        oursRuns,
        peerRuns,
        ...(notes.length ? { note: notes.join('; ') } : {}),
      });
    }
  }
  return results;
}
