import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger, type Logger } from '../log/logger.js';
import { LabNetwork, removeStaleLabNamespaces } from './netns.js';
import { QemuMachine, type Firmware, type NicModel } from './qemu.js';
import { assertLabHost, hostKernel } from './lab-host.js';
import { buildTinyInitramfs, markerPattern } from './tiny-initramfs.js';
import type { Daemon } from '../process/daemon.js';
import { readJsonLog, startLabServer } from './lab-server.js';
import { adminBaseUrl } from '../api/endpoints.js';

export interface LabBootOptions {
  firmware?: Firmware;
  nic?: NicModel;
  /** full: we hand out the address; proxy: a foreign dnsmasq does, we only say what to boot. */
  dhcpMode?: 'full' | 'proxy';
  loader?: 'ipxe' | 'pxelinux';
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
  /** The kernel command line the tiny /init saw. */
  cmdline: string;
  console: string;
  /** The server's JSON log lines, parsed. */
  serverLog: Array<Record<string, unknown>>;
  durationMs: number;
}

export const LAB_SERVER = '10.77.0.1';
/** The lab server's admin listener (the api.address and api.port defaults), inside the lab's namespace. */
export const LAB_ADMIN_URL = adminBaseUrl('127.0.0.1', 8780);
export const LAB_NODE_ADDRESS = '10.77.0.11';
const FOREIGN_DHCP = '10.77.0.2';

export function defaultCacheDir(): string {
  return process.env['DISKLESS_CACHE'] ?? '/var/cache/diskless';
}

function labConfig(o: { stateDir: string; mode: 'full' | 'proxy'; mac: string; kernel: string; initrd: string; loader: string; token: string }): string {
  return `# Written by "diskless lab" for one boot; removed afterwards.
server:
  address: ${LAB_SERVER}
  interface: br0
  answer_router_solicitations: true
  http_port: 80
  state_dir: ${o.stateDir}
dhcp:
  mode: ${o.mode}
${o.mode === 'full' ? '  pool: 10.77.0.100-10.77.0.150\n  routers: [10.77.0.1]\n  dns: [10.77.0.1]\n  domain: lab.test\n' : ''}  unknown_clients: deny
profiles:
  lab:
    kernel: ${o.kernel}
    initrd: ${o.initrd}
    cmdline: console=ttyS0 diskless.lab=${o.token}
    loader: ${o.loader}
nodes:
  - mac: "${o.mac}"
    hostname: lab1
    profile: lab
${o.mode === 'full' ? `    address: ${LAB_NODE_ADDRESS}\n` : ''}`;
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
  const initrd = await buildTinyInitramfs({ markerId: token, cacheDir: join(opts.cacheDir ?? defaultCacheDir(), 'tiny-initramfs') });
  const configPath = join(dir, 'diskless.yaml');
  const config = (paths: { kernel: string; initrd: string; stateDir: string }) => labConfig({ ...paths, mode, mac, loader, token });
  await writeFile(configPath, config({ stateDir: join(dir, 'state'), kernel: hostKernel(), initrd: initrd.path }));

  let net: LabNetwork | undefined;
  let vm: QemuMachine | undefined;
  const serverLogPath = join(dir, 'server.log');
  try {
    net = await LabNetwork.create({ ...(mode === 'proxy' ? { foreignAddress: `${FOREIGN_DHCP}/24` } : {}), logger: log });
    if (mode === 'proxy') await startForeignDhcp(net, dir);
    if (opts.serveWith) await opts.serveWith({ net, kernel: hostKernel(), initrd: initrd.path, config, logPath: serverLogPath });
    else await startLabServer(net, configPath, serverLogPath);
    vm = await QemuMachine.start({
      boot: { kind: 'network' },
      firmware,
      network: net,
      nicModel: opts.nic ?? 'virtio-net-pci',
      mac,
      optionRom: opts.optionRom ?? firmware === 'bios',
      logger: log,
    });
    opts.onMachine?.(vm);
    const m = await vm.waitFor(markerPattern(token), opts.timeoutMs ?? 240_000);
    return {
      mac,
      cmdline: (m[1] ?? '').trim(),
      console: vm.consoleText(),
      serverLog: await readJsonLog(serverLogPath),
      durationMs: Date.now() - started,
    };
  } catch (e) {
    const serverTail = (await readFile(serverLogPath, 'utf8').catch(() => '')).split('\n').slice(-30).join('\n');
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n--- server log (last lines) ---\n${serverTail}`);
  } finally {
    await vm?.stop().catch(() => undefined);
    await net?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A DHCP server that is not ours: addresses only, no boot information (the proxyDHCP case). */
export async function startForeignDhcp(net: LabNetwork, dir: string): Promise<Daemon> {
  return net.spawn(net.foreignName!, [
    'dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--no-resolv', '--no-hosts',
    '--interface=eth0', '--bind-interfaces', '--dhcp-range=10.77.0.50,10.77.0.60,255.255.255.0,1h',
    `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, '--log-dhcp', `--pid-file=${join(dir, 'dnsmasq.pid')}`,
  ], { logFile: join(dir, 'dnsmasq.log') });
}
