import { defaultCacheDir } from '../files/cache-dir.js';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { nullLogger, type Logger } from '../log/logger.js';
import { LabNetwork, removeStaleLabNamespaces } from './netns.js';
import { QemuMachine, type Firmware, type NicModel, type UefiNetBoot } from './qemu.js';
import { assertLabHost, hostKernel } from './lab-host.js';
import { buildTinyInitramfs, markerPattern } from './tiny-initramfs.js';
import type { Daemon } from '../process/daemon.js';
import { readJsonLog, startLabServer } from './lab-server.js';
import { adminBaseUrl } from '../api/endpoints.js';
import type { NodeDetail } from '../api/wire.js';
import { LOADER_REFUSED_MSG } from '../events/loader-watch.js';
import { arm64Parts, type Arm64Parts } from './arm64-parts.js';
import { cachedNetworkInitrd } from './lab-initrd.js';
import { makeSquashfs } from '../images/squashfs.js';
import { ensureLabImage } from './lab-image.js';

export interface LabBootOptions {
  firmware?: Firmware;
  nic?: NicModel;
  /** full: we hand out the address; proxy: a foreign dnsmasq does, we only say what to boot. */
  dhcpMode?: 'full' | 'proxy';
  loader?: 'ipxe' | 'pxelinux' | 'grub';
  /** The profile's secure_boot: UEFI machines get shim → GRUB, and the kernel must be signed. */
  secureBoot?: boolean;
  /** UEFI only: the firmware's PXE (default) or only its HTTP boot (no TFTP at all). */
  uefiNetBoot?: UefiNetBoot;
  /** Shell the tiny /init runs before its marker (its output lands on the console). */
  probe?: string;
  /**
   * marker (default): wait for the tiny /init's marker. loader-refused: wait for the server to
   * log that the machine's firmware refused its loader (nothing asked for more after it).
   */
  until?: 'marker' | 'loader-refused';
  /**
   * Also boot an arm64 machine (AAVMF on QEMU's virt machine, TCG) at the same time, from the
   * same server and inventory: its own profile with Debian's signed arm64 kernel and our network
   * initrd built from that kernel's modules (arm64 busybox and tools, the cross-built NBD
   * helper), through the arm64 signed chain (arm64-parts.ts). Its live root is a small squashfs
   * holding ARM64_ROOT_MARK only: the boot is followed until /init reports the root attached.
   */
  arm64Companion?: boolean;
  /** Default: the NIC's iPXE ROM on BIOS, the firmware's own PXE (which loads ipxe.efi) on UEFI. */
  optionRom?: boolean;
  timeoutMs?: number;
  cacheDir?: string;
  logger?: Logger;
  /** Called with the machine once it runs, e.g. to show its console live. */
  onMachine?: (vm: QemuMachine) => void;
  /**
   * Runs the server another way than `node dist/src/cli/main.js serve` (an installed package):
   * places the lab's kernel and initrd where that server reads them, writes `config(…)` as its
   * config, starts it in the lab namespace and resolves once it serves.
   */
  serveWith?: (lab: LabServerSetup) => Promise<Daemon>;
  /** YAML lines added to the lab profile (indented four spaces), e.g. a menu. */
  profileExtra?: string;
  /** server.signed_boot.x64: another shim and GRUB than Debian bookworm's (trixie-signed-chain.ts). */
  signedBootX64?: { shim: string; grub: string };
  /**
   * The lab profile boots the lab image's Debian kernel with our network initrd (from that
   * image's modules, virtio-net only) and a live root: a small squashfs holding LIVE_ROOT_MARK.
   * The boot is followed until /init reports the root attached (stage root ok), not the marker.
   */
  liveRoot?: boolean;
}

/** What a `serveWith` hook gets: the network, the boot files, the lab's config and the log file. */
export interface LabServerSetup {
  net: LabNetwork;
  kernel: string;
  initrd: string;
  /** The lab's config for that server, naming the files and state directory as it sees them. */
  config(paths: { kernel: string; initrd: string; stateDir: string }): string;
  /** Where the server's output should go; the result's serverLog is read from it. */
  logPath: string;
}

export interface LabBootResult {
  mac: string;
  /** The lab profile's kernel file. */
  kernel: string;
  /** The kernel command line the tiny /init saw ('' when waiting for a refusal). */
  cmdline: string;
  console: string;
  /** The server's JSON log lines, parsed. */
  serverLog: Array<Record<string, unknown>>;
  durationMs: number;
  /** The arm64 companion's boot, when one was asked for, and its node as the admin API showed it once its root was attached. */
  arm64?: { mac: string; cmdline: string; console: string; node?: NodeDetail };
  /** The machine as the admin API showed it once the boot was seen (absent when the API did not answer). */
  node?: NodeDetail;
}

export const LAB_SERVER = '10.77.0.1';
/** The lab server's admin listener (the api.address and api.port defaults), inside the lab's namespace. */
export const LAB_ADMIN_URL = adminBaseUrl('127.0.0.1', 8780);
export const LAB_NODE_ADDRESS = '10.77.0.11';
export const LAB_ARM64_ADDRESS = '10.77.0.12';
const FOREIGN_DHCP = '10.77.0.2';
/** The lab's pool on the server's link (dhcp.pool). */
export const LAB_POOL = { start: '10.77.0.100', end: '10.77.0.150' };

export { defaultCacheDir };

interface Arm64Node {
  mac: string;
  kernel: string;
  initrd: string;
  token: string;
  parts: Arm64Parts;
  /** The squashfs its profile boots as a live root. */
  rootImage: string;
}

/** The one file of the arm64 companion's live root. */
export const ARM64_ROOT_MARK = 'etc/diskless-arm64-lab';
/** The one file of the x86 machine's live root (LabBootOptions.liveRoot). */
export const LIVE_ROOT_MARK = 'etc/diskless-live-lab';

function labConfig(o: { stateDir: string; mode: 'full' | 'proxy'; mac: string; kernel: string; initrd: string; loader: string; secureBoot: boolean; token: string; arm64?: Arm64Node; profileExtra?: string; x64?: { shim: string; grub: string } }): string {
  const a = o.arm64;
  const x = o.x64;
  const signed = [
    ...(x ? [`    x64: { shim: ${x.shim}, grub: ${x.grub} }`] : []),
    ...(a ? [`    arm64: { shim: ${a.parts.shim}, grub: ${a.parts.grub} }`] : []),
  ];
  return `# Written by "diskless lab" for one boot; removed afterwards.
server:
  address: ${LAB_SERVER}
  interface: br0
  http_port: 80
  state_dir: ${o.stateDir}
${signed.length > 0 ? `  signed_boot:\n${signed.join('\n')}\n` : ''}dhcp:
  mode: ${o.mode}
${o.mode === 'full' ? `  pool: ${LAB_POOL.start}-${LAB_POOL.end}\n  routers: [10.77.0.1]\n  dns: [10.77.0.1]\n  domain: lab.test\n` : ''}  unknown_clients: deny
profiles:
  lab:
    kernel: ${o.kernel}
    initrd: ${o.initrd}
    cmdline: console=ttyS0 diskless.lab=${o.token}
    loader: ${o.loader}
    secure_boot: ${o.secureBoot}${o.profileExtra ?? ''}
${a ? `  lab-arm64:\n    kernel: ${a.kernel}\n    initrd: ${a.initrd}\n    cmdline: console=ttyAMA0 diskless.lab=${a.token}\n    loader: grub\n    secure_boot: true\n    root: { mode: live, image: ${a.rootImage}, retry: 60 }\n` : ''}nodes:
  - mac: "${o.mac}"
    hostname: lab1
    profile: lab
${o.mode === 'full' ? `    address: ${LAB_NODE_ADDRESS}\n` : ''}${a ? `  - mac: "${a.mac}"\n    hostname: lab-arm64\n    profile: lab-arm64\n${o.mode === 'full' ? `    address: ${LAB_ARM64_ADDRESS}\n` : ''}` : ''}`;
}


/**
 * Boots one virtual machine from a real `diskless serve` inside a private network namespace:
 * firmware PXE → DHCP → (TFTP loader) → iPXE script or pxelinux config → kernel + tiny initrd,
 * whose /init prints a marker with its command line. Everything is torn down afterwards.
 */
export async function runLabBoot(opts: LabBootOptions = {}): Promise<LabBootResult> {
  assertLabHost();
  await removeStaleLabNamespaces(); // left by runs that were killed with SIGKILL
  const log = (opts.logger ?? nullLogger).child({ service: 'lab' });
  const firmware = opts.firmware ?? 'bios';
  const mode = opts.dhcpMode ?? 'full';
  const loader = opts.loader ?? 'ipxe';
  const token = randomBytes(4).toString('hex');
  const mac = `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`;
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'diskless-lab-'));
  const initrd = await buildTinyInitramfs({ markerId: token, cacheDir: join(opts.cacheDir ?? defaultCacheDir(), 'tiny-initramfs'), ...(opts.probe === undefined ? {} : { extraInit: opts.probe }) });
  let arm64: Arm64Node | undefined;
  if (opts.arm64Companion) {
    const cacheDir = opts.cacheDir ?? defaultCacheDir();
    const parts = await arm64Parts(cacheDir);
    const armToken = randomBytes(4).toString('hex');
    // virtio-net only: GRUB fetches the initrd over TFTP, and the machine has no other NIC.
    const armInitrd = await cachedNetworkInitrd('lab-arm64', [parts.root], { root: parts.root, kernelVersion: parts.kernelVersion, drivers: ['virtio_net'] }, cacheDir);
    await mkdir(join(dir, 'arm64-root', dirname(ARM64_ROOT_MARK)), { recursive: true });
    await writeFile(join(dir, 'arm64-root', ARM64_ROOT_MARK), 'arm64 lab root\n');
    const rootImage = join(dir, 'arm64-root.sqfs');
    await makeSquashfs(join(dir, 'arm64-root'), rootImage);
    arm64 = { mac: `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`, kernel: parts.kernel, initrd: armInitrd, token: armToken, parts, rootImage };
  }
  let kernel = hostKernel();
  let labInitrd = initrd.path;
  let liveExtra = '';
  if (opts.liveRoot) {
    const cacheDir = opts.cacheDir ?? defaultCacheDir();
    const image = await ensureLabImage(cacheDir);
    kernel = image.kernel;
    labInitrd = await cachedNetworkInitrd('lab-live', [image.dir], { root: image.rootfs, drivers: ['virtio_net'] }, cacheDir);
    await mkdir(join(dir, 'live-root', dirname(LIVE_ROOT_MARK)), { recursive: true });
    await writeFile(join(dir, 'live-root', LIVE_ROOT_MARK), 'live lab root\n');
    await makeSquashfs(join(dir, 'live-root'), join(dir, 'live-root.sqfs'));
    liveExtra = `\n    root: { mode: live, image: ${join(dir, 'live-root.sqfs')}, retry: 60 }`;
  }
  const profileExtra = `${opts.profileExtra ?? ''}${liveExtra}`;
  const configPath = join(dir, 'diskless.yaml');
  const config = (paths: { kernel: string; initrd: string; stateDir: string }) => labConfig({ ...paths, mode, mac, loader, secureBoot: opts.secureBoot ?? false, token, ...(arm64 ? { arm64 } : {}), ...(profileExtra !== '' ? { profileExtra } : {}), ...(opts.signedBootX64 ? { x64: opts.signedBootX64 } : {}) });
  await writeFile(configPath, config({ stateDir: join(dir, 'state'), kernel, initrd: labInitrd }));

  let net: LabNetwork | undefined;
  let vm: QemuMachine | undefined;
  let armVm: QemuMachine | undefined;
  const serverLogPath = join(dir, 'server.log');
  try {
    net = await LabNetwork.create({
      ...(mode === 'proxy' ? { foreignAddress: `${FOREIGN_DHCP}/24` } : {}),
      logger: log,
    });
    if (mode === 'proxy') await startForeignDhcp(net, dir);
    if (opts.serveWith) await opts.serveWith({ net, kernel, initrd: labInitrd, config, logPath: serverLogPath });
    else await startLabServer(net, configPath, serverLogPath);
    vm = await QemuMachine.start({
      boot: { kind: 'network' },
      firmware,
      ...(opts.uefiNetBoot === undefined ? {} : { uefiNetBoot: opts.uefiNetBoot }),
      network: net,
      nicModel: opts.nic ?? 'virtio-net-pci',
      mac,
      optionRom: opts.optionRom ?? firmware === 'bios',
      logger: log,
    });
    opts.onMachine?.(vm);
    if (arm64) {
      armVm = await QemuMachine.start({
        boot: { kind: 'network' },
        firmware: 'aavmf',
        network: net,
        nicModel: 'virtio-net-pci',
        mac: arm64.mac,
        optionRom: false,
        memoryMiB: 1024,
        logger: log,
      });
    }
    const timeoutMs = opts.timeoutMs ?? 240_000;
    let cmdline = '';
    if (opts.until === 'loader-refused') {
      const deadline = Date.now() + timeoutMs;
      while (!(await readJsonLog(serverLogPath)).some((l) => l['msg'] === LOADER_REFUSED_MSG && l['mac'] === mac)) {
        if (Date.now() > deadline) throw new Error(`the server did not log "${LOADER_REFUSED_MSG}" for ${mac} within ${timeoutMs / 1000} s`);
        await new Promise((r) => setTimeout(r, 500));
      }
    } else if (opts.liveRoot) {
      const deadline = Date.now() + timeoutMs;
      const attached = (l: Record<string, unknown>): boolean => l['service'] === 'node' && l['mac'] === mac && l['stage'] === 'root' && l['status'] === 'ok';
      while (!(await readJsonLog(serverLogPath)).some(attached)) {
        if (Date.now() > deadline) throw new Error(`${mac} did not report its root attached within ${timeoutMs / 1000} s; its console:\n${vm.consoleText().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      // What the kernel printed it was given (GRUB's linux line, iPXE's kernel line).
      cmdline = (/Kernel command line: (.*)/.exec(vm.consoleText())?.[1] ?? '').trim();
    } else {
      const m = await vm.waitFor(markerPattern(token), timeoutMs);
      cmdline = (m[1] ?? '').trim();
    }
    let armResult: LabBootResult['arm64'];
    if (arm64 && armVm) {
      const deadline = Date.now() + timeoutMs;
      const attached = (l: Record<string, unknown>): boolean => l['service'] === 'node' && l['mac'] === arm64.mac && l['stage'] === 'root' && l['status'] === 'ok';
      while (!(await readJsonLog(serverLogPath)).some(attached)) {
        if (Date.now() > deadline) throw new Error(`the arm64 node ${arm64.mac} did not report its root attached within ${timeoutMs / 1000} s; its console:\n${armVm.consoleText().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      const armNode = await nodeFromApi(net, arm64.mac);
      armResult = {
        mac: arm64.mac,
        // What the kernel printed it was given (GRUB's linux line).
        cmdline: (/Kernel command line: (.*)/.exec(armVm.consoleText())?.[1] ?? '').trim(),
        console: armVm.consoleText(),
        ...(armNode ? { node: armNode } : {}),
      };
    }
    const node = await nodeFromApi(net, mac);
    return {
      ...(armResult ? { arm64: armResult } : {}),
      ...(node ? { node } : {}),
      mac,
      kernel,
      cmdline,
      console: vm.consoleText(),
      serverLog: await readJsonLog(serverLogPath),
      durationMs: Date.now() - started,
    };
  } catch (e) {
    const serverTail = (await readFile(serverLogPath, 'utf8').catch(() => '')).split('\n').slice(-30).join('\n');
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n--- server log (last lines) ---\n${serverTail}`);
  } finally {
    await vm?.stop().catch(() => undefined);
    await armVm?.stop().catch(() => undefined);
    await net?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

/** GET /api/v1/nodes/MAC on the lab server's admin listener, from inside the lab namespace. */
async function nodeFromApi(net: LabNetwork, mac: string): Promise<NodeDetail | undefined> {
  const r = await net.exec(net.name, ['curl', '-sf', '--max-time', '10', `${LAB_ADMIN_URL}/api/v1/nodes/${mac}`], { check: false });
  if (r.code !== 0) return undefined;
  return JSON.parse(r.stdout) as NodeDetail;
}

/** A DHCP server that is not ours: addresses only, no boot information (the proxyDHCP case). */
export async function startForeignDhcp(net: LabNetwork, dir: string): Promise<Daemon> {
  return net.spawn(net.foreignName!, [
    'dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--no-resolv', '--no-hosts',
    '--interface=eth0', '--bind-interfaces', '--dhcp-range=10.77.0.50,10.77.0.60,255.255.255.0,1h',
    `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, '--log-dhcp', `--pid-file=${join(dir, 'dnsmasq.pid')}`,
  ], { logFile: join(dir, 'dnsmasq.log') });
}
