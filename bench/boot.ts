import { DebianLab } from '../src/app/lab-debian.js';
import type { Benchmark, BenchContext } from './lib/context.js';
import { median, type BenchResult } from './lib/result.js';

type Line = Record<string, unknown>;

/**
 * Kernel start to switch_root, as the node's own /init reports it (uptime_ms of the
 * switch_root stage report, i.e. /proc/uptime on the node), for each node of one DebianLab run;
 * and QEMU start to that report, which adds firmware, iPXE, DHCP and the kernel+initrd fetch.
 */
async function bootOurs(mode: 'live' | 'nbd', nodes: number, log: (l: string) => void): Promise<{ kernelToSwitchRoot: number[]; powerOnToSwitchRoot: number[] }> {
  const t0 = Date.now();
  const lab = await DebianLab.start({ mode, nodes, progress: (m) => log(`  ${m}`) });
  try {
    const deadline = Date.now() + 15 * 60_000;
    const done = new Map<string, { uptime: number; at: number }>();
    while (done.size < nodes && Date.now() < deadline) {
      for (const l of (await lab.serverLog()) as Line[]) {
        if (l['service'] !== 'node' || l['stage'] !== 'switch_root' || l['status'] !== 'ok') continue;
        const mac = String(l['mac']);
        if (!done.has(mac)) done.set(mac, { uptime: Number(l['uptime_ms']) / 1000, at: (Date.now() - t0) / 1000 });
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    if (done.size < nodes) throw new Error(`Cannot measure boot: ${done.size} of ${nodes} nodes reached switch_root in 15 minutes`);
    return { kernelToSwitchRoot: [...done.values()].map((d) => d.uptime), powerOnToSwitchRoot: [...done.values()].map((d) => d.at) };
  } finally {
    await lab.stop();
  }
}

/**
 * The boot benchmark (QEMU, TCG: slow and CPU-bound; run it alone). Quick: one node, root over
 * NBD. Full: scale.bootNodes nodes at once, live and NBD roots.
 *
 * Not yet implemented: the reference stack (dnsmasq DHCP + nginx + nfs-ganesha NFSv3 root with
 * Debian's own mkinitramfs initrd, BOOT=nfs) booting the same image; its column reads "fail"
 * with a note until it is.
 */
export const bootBenchmark: Benchmark = {
  name: 'boot',
  network: false,
  async run({ scale, log }: BenchContext) {
    const nodes = scale.bootNodes;
    const modes: Array<'live' | 'nbd'> = scale.name === 'quick' ? ['nbd'] : ['live', 'nbd'];
    const results: BenchResult[] = [];
    for (const mode of modes) {
      const r = await bootOurs(mode, nodes, log);
      log(`  ${mode}: kernel→switch_root ${r.kernelToSwitchRoot.map((x) => x.toFixed(1)).join(' ')} s; power-on→switch_root ${r.powerOnToSwitchRoot.map((x) => x.toFixed(1)).join(' ')} s`);
      const base = { bench: 'boot', link: 'bridge+tap', peer: 'dnsmasq+nginx+NFS, Debian initramfs', unit: 's', better: 'lower' as const, peerValue: null, peerRuns: [], note: 'reference stack not implemented yet; QEMU TCG, no KVM' };
      results.push(
        { ...base, case: `${nodes} node(s), root ${mode}, kernel start -> switch_root`, ours: median(r.kernelToSwitchRoot), oursRuns: r.kernelToSwitchRoot },
        { ...base, case: `${nodes} node(s), root ${mode}, QEMU start -> switch_root`, ours: median(r.powerOnToSwitchRoot), oursRuns: r.powerOnToSwitchRoot },
      );
    }
    return results;
  },
};
