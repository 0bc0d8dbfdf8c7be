// Records what one real lab boot does on the wire, for the boot-storm replay:
//   sudo flock /tmp/diskless-e2e.lock node dist/bench/storm-record.js live|nbd [OUT_DIR]
// Boots one DebianLab node (QEMU, TCG) with root over MODE against `diskless serve` with its
// shipped defaults, captures the lab bridge with tcpdump (headers and the first bytes of each
// payload) until the node's login prompt, and writes OUT_DIR/MODE.pcap and, from it,
// bench/storm/traces/MODE.json (see bench/storm/trace.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DebianLab } from '../src/lab/debian-lab.js';
import type { Daemon } from '../src/process/daemon.js';
import { traceFromPcap } from './storm/trace.js';
import { readFile } from 'node:fs/promises';

const TRACES = fileURLToPath(new URL('../../bench/storm/traces', import.meta.url));
const LOGIN_PROMPT = /\S+ login: /;

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode !== 'live' && mode !== 'nbd') throw new Error('usage: storm-record.js live|nbd [OUT_DIR]');
  const out = process.argv[3] ?? '/tmp/diskless-storm-record';
  await mkdir(out, { recursive: true });
  const pcap = join(out, `${mode}.pcap`);
  let tcpdump: Daemon | undefined;
  const t0 = Date.now();
  const lab = await DebianLab.start({
    mode,
    progress: (m) => process.stderr.write(`  ${m}\n`),
    beforeBoot: async (net) => {
      tcpdump = await net.spawn(net.name, ['tcpdump', '-i', 'br0', '-n', '-U', '-s', '2048', '-w', pcap, 'ip']);
      // tcpdump says "listening on br0" once its socket is open.
      const deadline = Date.now() + 30_000;
      while (!/listening on/.test(tcpdump.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    },
  });
  let unfinished: string | undefined;
  try {
    await lab.vm.waitFor(LOGIN_PROMPT, Number(process.env['STORM_RECORD_TIMEOUT_MS'] ?? 12 * 60_000));
    process.stderr.write(`  login prompt after ${((Date.now() - t0) / 1000).toFixed(1)} s (QEMU TCG on a loaded host)\n`);
    await new Promise((r) => setTimeout(r, 2000)); // the booted report follows the prompt by a moment
  } catch (e) {
    // What was captured is still one real boot up to that point: kept, and said so in the trace.
    unfinished = `the login prompt did not appear within the recorder's time (${e instanceof Error ? e.message : String(e)}): the last requests of the boot may be missing`;
  } finally {
    await tcpdump?.stop();
    await lab.stop();
  }
  const trace = traceFromPcap(await readFile(pcap), { mode, server: '10.77.0.1' });
  if (unfinished) trace.notes.push(unfinished);
  await mkdir(TRACES, { recursive: true });
  await writeFile(join(TRACES, `${mode}.json`), JSON.stringify(trace, null, 1) + '\n');
  process.stderr.write(`  ${trace.steps.length} steps, ${(trace.steps.reduce((s, x) => s + ('bytes' in x ? x.bytes : 0), 0) / 1e6).toFixed(1)} MB; trace in ${TRACES}/${mode}.json, pcap in ${pcap}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`storm-record: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
