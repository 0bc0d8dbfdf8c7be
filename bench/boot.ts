import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { DebianLab } from '../src/lab/debian-lab.js';
import { defaultCacheDir } from '../src/lab/tiny-lab.js';
import { ensureLabImage, type LabImage } from '../src/lab/lab-image.js';
import type { LabNetwork } from '../src/lab/netns.js';
import { QemuMachine } from '../src/lab/qemu.js';
import type { Benchmark, BenchContext } from './lib/context.js';
import { buildMkinitramfs } from './initrd.js';
import { BenchNet, SERVER, waitUntil } from './lib/net.js';
import { median, type BenchResult } from './lib/result.js';
import { PORTS, startNginx } from './lib/servers.js';
import { httpBaseUrl } from '../src/boot/urls.js';

/**
 * The first line systemd (PID 1 of the real root) writes to the kernel log, with the kernel's
 * timestamp: the moment switch_root has happened, whichever initramfs did it. Same marker for
 * both stacks, so the comparison does not depend on what each /init reports.
 */
const SYSTEMD_STARTED = /\[\s*(\d+\.\d+)\]\s+systemd\[1\]: systemd \d+/;
const BOOT_TIMEOUT_MS = 15 * 60_000;

/**
 * The serial getty's prompt: the node is booted (systemd reached its default target). Not
 * anchored at the line's end: a late kernel message can land on the same console line.
 */
const LOGIN_PROMPT = /\S+ login: /;

interface BootTimes {
  /** Kernel start → systemd's first line (the guest's own clock). */
  kernel: number[];
  /** Ours only: uptime at our /init's own switch_root stage report, just before it execs switch_root. */
  reported?: number[];
  /** QEMU start → that line seen on the console (host clock): firmware, DHCP, fetches included. */
  powerOn: number[];
  /** QEMU start → the login prompt, per node (host clock). */
  login: number[];
  /** QEMU start → the last node's login prompt: one value per round. */
  allBooted: number[];
  /** Bytes each node had received on its NIC when its login prompt appeared, in MB. */
  receivedMB: number[];
}

interface NodeBoot { kernel: number; powerOn: number; login: number; receivedMB: number }

/** Follows one node from power-on to its login prompt; counts what reached its tap by then. */
async function waitForBooted(vm: QemuMachine, network: LabNetwork, t0: number): Promise<NodeBoot> {
  const m = await vm.waitFor(SYSTEMD_STARTED, BOOT_TIMEOUT_MS);
  const powerOn = (Date.now() - t0) / 1000;
  await vm.waitFor(LOGIN_PROMPT, BOOT_TIMEOUT_MS, m.index);
  const login = (Date.now() - t0) / 1000;
  const received = vm.tap === undefined ? Number.NaN : await network.bytesToTap(vm.tap);
  return { kernel: Number(m[1]), powerOn, login, receivedMB: received / 1e6 };
}

function bootTimes(nodes: readonly NodeBoot[]): BootTimes {
  return {
    kernel: nodes.map((n) => n.kernel),
    powerOn: nodes.map((n) => n.powerOn),
    login: nodes.map((n) => n.login),
    allBooted: [Math.max(...nodes.map((n) => n.login))],
    receivedMB: nodes.map((n) => n.receivedMB),
  };
}

function emptyTimes(): Required<BootTimes> {
  return { kernel: [], powerOn: [], login: [], allBooted: [], receivedMB: [], reported: [] };
}

function accumulate(into: BootTimes, r: BootTimes): void {
  for (const k of ['kernel', 'powerOn', 'login', 'allBooted', 'receivedMB', 'reported'] as const) into[k]?.push(...(r[k] ?? []));
}

function describeRound(r: BootTimes): string {
  const f = (xs: readonly number[]) => xs.map((x) => x.toFixed(1)).join(' ');
  return `kernel→systemd ${f(r.kernel)} s; QEMU start→systemd ${f(r.powerOn)} s; →login ${f(r.login)} s; received ${f(r.receivedMB)} MB`;
}

/** Keeps the consoles of the last boot of each stack in the temp dir, to see where the time went. */
async function keepConsoles(stack: string, vms: readonly QemuMachine[], log: (l: string) => void): Promise<void> {
  for (const [i, vm] of vms.entries()) {
    const path = join(tmpdir(), `diskless-bench-boot-${stack}-${i + 1}.console.txt`);
    await writeFile(path, vm?.consoleText() ?? '').catch(() => undefined);
    log(`  console kept: ${path}`);
  }
}

/** Our stack: `diskless serve` + our initrd, root over `mode`, `nodes` machines at once. */
async function bootOurs(mode: 'live' | 'nbd', nodes: number, log: (l: string) => void): Promise<BootTimes> {
  // The reference stack has no RA responder, so ours runs without it too: iPXE waits out its
  // IPv6 router discovery on both (server.answer_router_solicitations would save ~13 s here).
  const lab = await DebianLab.start({ mode, nodes, answerRouterSolicitations: false, progress: (m) => log(`  ${m}`) });
  // Both stacks count from the moment their QEMU processes run (DebianLab.start ends with them).
  const t0 = Date.now();
  try {
    const times = await Promise.all(lab.nodes.map((n) => waitForBooted(n.vm, lab.net, t0)));
    const reports = (await lab.serverLog()).filter((l) => l['service'] === 'node' && l['stage'] === 'switch_root' && l['status'] === 'ok');
    return { ...bootTimes(times), reported: reports.map((r) => Number(r['uptime_ms']) / 1000) };
  } finally {
    await keepConsoles('ours', lab.nodes.map((n) => n.vm), log);
    await lab.stop();
  }
}

/**
 * The LTSP-style reference: dnsmasq (DHCP; iPXE gets an HTTP script), nginx (kernel, initrd),
 * nfs-ganesha NFSv3 exporting the same image tree read-only (Debian's klibc nfsmount speaks v3
 * only, so rpcbind runs too), and Debian's own mkinitramfs initrd with BOOT=nfs MODULES=netboot.
 * rpcbind and ganesha get a private mount namespace with their own /run, so their sockets never
 * meet another rpcbind on this host.
 */
async function bootReference(image: LabImage, initrdPath: string, nodes: number, work: string, log: (l: string) => void): Promise<BootTimes> {
  const files = join(work, 'files');
  await mkdir(files, { recursive: true });
  await chmod(work, 0o755);
  await chmod(files, 0o755);
  await copyFile(image.kernel, join(files, 'vmlinuz'));
  await copyFile(initrdPath, join(files, 'initrd.img'));
  const base = httpBaseUrl({ address: SERVER, httpPort: PORTS.http });
  await writeFile(join(files, 'boot.ipxe'), `#!ipxe
kernel ${base}/vmlinuz root=/dev/nfs nfsroot=${SERVER}:${image.rootfs},tcp ip=dhcp ro console=ttyS0
initrd ${base}/initrd.img
boot
`);
  const ganeshaConf = join(work, 'ganesha.conf');
  await writeFile(ganeshaConf, `NFS_CORE_PARAM { Protocols = 3, 4; Bind_addr = ${SERVER}; Enable_NLM = false; Enable_RQUOTA = false; }
NFS_KRB5 { Active_krb5 = false; }
NFSV4 { Graceless = true; }
EXPORT {
  Export_Id = 1; Path = "${image.rootfs}"; Pseudo = /lab;
  Access_Type = RO; Squash = No_Root_Squash; SecType = sys;
  Protocols = 3, 4; Transports = TCP, UDP;
  FSAL { Name = VFS; }
}
`);
  const net = await BenchNet.create();
  try {
    await net.spawnServer(['unshare', '-m', '--propagation', 'private', 'sh', '-c',
      'mount -t tmpfs tmpfs /run && mkdir -p /run/ganesha && rpcbind -w && exec ganesha.nfsd -F -f "$1" -L "$2" -p /run/ganesha/pid',
      'sh', ganeshaConf, join(work, 'ganesha.log')], { logFile: join(work, 'nfs.log') });
    await waitUntil('nfs-ganesha on tcp/2049', async () => (await net.server(['ss', '-Hlnt', 'sport = :2049'], { check: false })).stdout.trim() !== '', 60_000);
    await net.spawnServer(['dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--no-resolv', '--no-hosts', '--user=root',
      '--interface=br0', '--bind-interfaces', '--dhcp-range=10.77.0.100,10.77.0.200,255.255.0.0,1h', '--dhcp-authoritative', '--no-ping',
      '--dhcp-userclass=set:ipxe,iPXE', `--dhcp-boot=tag:ipxe,${base}/boot.ipxe`, `--dhcp-leasefile=${join(work, 'dnsmasq.leases')}`,
      `--pid-file=${join(work, 'dnsmasq.pid')}`, '--log-facility=-'], { logFile: join(work, 'dnsmasq.log') });
    await startNginx(net, work, files);
    const vms: QemuMachine[] = [];
    let t0 = Date.now();
    try {
      for (let i = 0; i < nodes; i++) {
        vms.push(await QemuMachine.start({
          boot: { kind: 'network' },
          network: net.lab,
          nicModel: 'virtio-net-pci',
          mac: `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`,
          memoryMiB: 1024,
          name: `ref${i + 1}`,
        }));
      }
      t0 = Date.now();
      return bootTimes(await Promise.all(vms.map((vm) => waitForBooted(vm, net.lab, t0))));
    } finally {
      await keepConsoles('reference', vms, log);
      for (const vm of vms) await vm.stop().catch(() => undefined);
    }
  } finally {
    await net.destroy();
  }
}

/**
 * The boot benchmark (QEMU under TCG: slow and CPU-bound; run it alone, with --only boot).
 * Quick: one node, our NBD root against the NFS reference. Full: scale.bootNodes nodes at once,
 * our live and NBD roots against the reference.
 */
export const bootBenchmark: Benchmark = {
  name: 'boot',
  network: false,
  async run({ scale, work, log }: BenchContext) {
    const nodes = scale.bootNodes;
    const rounds = scale.name === 'quick' ? 2 : 3;
    const image = await ensureLabImage(defaultCacheDir(), log);
    const modes: Array<'live' | 'nbd'> = scale.name === 'quick' ? ['nbd'] : ['live', 'nbd'];
    const reference = emptyTimes();
    const ours = new Map(modes.map((m) => [m, emptyTimes()]));
    let referenceError: string | undefined;
    log('  building Debian\'s initrd (mkinitramfs BOOT=nfs MODULES=netboot) for the reference stack');
    const referenceInitrd = await buildMkinitramfs(image.rootfs, image.kernelVersion, work, 'MODULES=netboot\nBOOT=nfs\n');
    // Rounds alternate the stacks, so the load of other jobs on the machine falls on both.
    for (let round = 1; round <= rounds; round++) {
      try {
        const r = await bootReference(image, referenceInitrd.path, nodes, work, log);
        accumulate(reference, r);
        log(`  round ${round} reference: ${describeRound(r)}`);
      } catch (e) {
        referenceError = (e as Error).message.split('\n').slice(0, 3).join(' ');
        log(`  round ${round} reference stack FAILED: ${(e as Error).message}`);
      }
      for (const mode of modes) {
        const r = await bootOurs(mode, nodes, log);
        accumulate(ours.get(mode)!, r);
        log(`  round ${round} ours (${mode}): ${describeRound(r)}; /init reported switch_root at ${(r.reported ?? []).join(' ')} s`);
      }
    }
    const results: BenchResult[] = [];
    for (const mode of modes) {
      const r = ours.get(mode)!;
      const base = {
        bench: 'boot', link: 'bridge+tap', peer: 'dnsmasq+nginx+NFSv3, Debian initramfs', better: 'lower' as const,
        note: `QEMU TCG (no KVM), ${nodes} node(s) at once, ${rounds} rounds; ours /init reported switch_root at ${r.reported.map((x) => x.toFixed(1)).join(', ')} s${referenceError ? `; reference failed: ${referenceError}` : ''}`,
      };
      const row = (what: string, key: keyof BootTimes, unit = 's'): BenchResult => ({
        ...base, unit, case: `${nodes} node(s), ours root ${mode} vs NFS: ${what}`,
        ours: median(r[key]), peerValue: median(reference[key]), oursRuns: r[key], peerRuns: reference[key],
      });
      results.push(
        row('kernel start -> systemd (switch_root done)', 'kernel'),
        row('QEMU start -> systemd', 'powerOn'),
        row('QEMU start -> all nodes at login prompt', 'allBooted'),
        row('received per node by its login prompt', 'receivedMB', 'MB'),
      );
    }
    return results;
  },
};
