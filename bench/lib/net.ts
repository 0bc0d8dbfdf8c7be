import { LabNetwork, removeStaleLabNamespaces } from '../../src/lab/netns.js';
import type { Daemon, DaemonOptions } from '../../src/process/daemon.js';
import type { RunOptions, RunResult } from '../../src/process/run.js';

/** The link conditions a case is measured under. */
export type Link = 'veth' | 'tbf 1gbit' | 'tbf 10gbit';

export const SERVER = '10.77.0.1';
export const CLIENT = '10.77.0.2';
/** Server-side end of the veth (in the server namespace, a port of its bridge). */
const SERVER_VETH = 'vforeign';

/**
 * Two network namespaces joined by a veth: the server side (a bridge, as in the lab, so our
 * DHCP server binds br0 as it does in production) and the client side. A /16, so DHCP pools
 * hold tens of thousands of simulated clients. Every server and client runs inside one of the
 * two; nothing touches the host's own networks.
 */
export class BenchNet {
  #link: Link = 'veth';

  private constructor(readonly lab: LabNetwork) {}

  static async create(): Promise<BenchNet> {
    await removeStaleLabNamespaces();
    const lab = await LabNetwork.create({ bridgeAddress: `${SERVER}/16`, foreignAddress: `${CLIENT}/16` });
    return new BenchNet(lab);
  }

  get serverNs(): string {
    return this.lab.name;
  }

  get clientNs(): string {
    return this.lab.foreignName!;
  }

  get link(): Link {
    return this.#link;
  }

  /**
   * Sets the link: the veth as it is (its own round trip, tens of microseconds), or capped at
   * 1 or 10 Gbit/s in both directions by a token bucket (this kernel has tbf but no netem).
   */
  async setLink(link: Link): Promise<void> {
    if (link === this.#link) return;
    for (const [ns, dev] of [[this.serverNs, SERVER_VETH], [this.clientNs, 'eth0']] as const) {
      if (link === 'veth') {
        await this.lab.exec(ns, ['tc', 'qdisc', 'del', 'dev', dev, 'root'], { check: false });
      } else {
        // burst above rate/HZ so the bucket never starves the link on a 250 Hz kernel.
        const [rate, burst] = link === 'tbf 10gbit' ? ['10gbit', '8mb'] : ['1gbit', '512kb'];
        await this.lab.exec(ns, ['tc', 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', rate, 'burst', burst, 'latency', '20ms']);
      }
    }
    this.#link = link;
  }

  client(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return this.lab.exec(this.clientNs, argv, options);
  }

  server(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return this.lab.exec(this.serverNs, argv, options);
  }

  spawnServer(argv: readonly string[], options: DaemonOptions = {}): Promise<Daemon> {
    return this.lab.spawn(this.serverNs, argv, options);
  }

  spawnClient(argv: readonly string[], options: DaemonOptions = {}): Promise<Daemon> {
    return this.lab.spawn(this.clientNs, argv, options);
  }

  destroy(): Promise<void> {
    return this.lab.destroy();
  }
}

/** Wall-clock seconds of `fn`. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, value };
}

/** Waits until `check` resolves true, polling. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Cannot start benchmark: ${what} not ready within ${timeoutMs / 1000} s`);
}
