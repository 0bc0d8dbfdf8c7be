import { parseArgs } from 'node:util';
import { jsonLogger } from '../log/logger.js';
import { runLabBoot } from '../lab/tiny-lab.js';
import { DebianLab } from '../lab/debian-lab.js';
import { cleanConsole } from '../lab/console-text.js';
import type { QemuMachine } from '../lab/qemu.js';
import { DisklessError } from '../errors/diskless-error.js';

const HELP = `Usage: diskless lab [--root live|nbd|nfs] [--copy] [--nic virtio|e1000] [--interactive]
       diskless lab --root tiny [--firmware bios|uefi|uefi-secure-boot] [--nic virtio|e1000]
                    [--dhcp full|proxy] [--loader ipxe|pxelinux|grub] [--secure-boot]
                    [--http-boot]

Boots a virtual machine with no disk (QEMU) from a real "diskless serve" inside a private
network namespace and shows its console. By default a Debian bookworm node (built once with
mmdebstrap and cached in /var/cache/diskless) boots its root from this server to a login
prompt: --root live fetches the image into RAM (--copy: copies the whole tree into RAM),
nbd attaches it lazily, nfs mounts the tree; every node writes into a RAM overlay.
--interactive keeps the node running and connects your terminal to its console (log in as
root, no password; Ctrl-] ends). --root tiny boots a kernel and a marker-printing initramfs
instead, to try BIOS/UEFI firmware, proxyDHCP beside a foreign DHCP server, and pxelinux;
uefi-secure-boot is OVMF with Secure Boot enforced (Microsoft's keys), --loader grub hands UEFI
machines shim → GRUB, --secure-boot sets the profile's secure_boot, --http-boot turns the UEFI
firmware's PXE off so it boots over HTTP only.
Needs root; everything it creates is removed when it ends.
`;

/**
 * The line that says a Debian node is up. The boot's own time runs from its machine's start to
 * its login prompt; the command's also counts what comes before the machine starts (the image
 * and initrd, built on a first run and then cached, and the server), so it is given second.
 */
export function loginPromptMessage(mac: string, at: { commandStarted: number; machineStarted: number; loginPrompt: number }): string {
  const seconds = (ms: number): string => (ms / 1000).toFixed(0);
  return `${mac} reached its login prompt ${seconds(at.loginPrompt - at.machineStarted)} s after its machine started `
    + `(${seconds(at.loginPrompt - at.commandStarted)} s after this command started, counting the image, initrd and server it prepared)`;
}

function follow(vm: QemuMachine): NodeJS.Timeout {
  let shown = 0;
  return setInterval(() => {
    const text = cleanConsole(vm.consoleText());
    if (text.length > shown) process.stdout.write(text.slice(shown));
    shown = text.length;
  }, 200);
}

export async function labCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      root: { type: 'string', default: 'live' },
      copy: { type: 'boolean', default: false },
      firmware: { type: 'string', default: 'bios' },
      nic: { type: 'string', default: 'virtio' },
      dhcp: { type: 'string', default: 'full' },
      loader: { type: 'string', default: 'ipxe' },
      'secure-boot': { type: 'boolean', default: false },
      'http-boot': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '600' },
      interactive: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const choice = <T extends string>(name: string, v: string, allowed: readonly T[]): T => {
    if (!(allowed as readonly string[]).includes(v)) throw new DisklessError('DL_INVALID', `lab: --${name} must be one of ${allowed.join(', ')} (got "${v}")`);
    return v as T;
  };
  const root = choice('root', values.root, ['live', 'nbd', 'nfs', 'tiny'] as const);
  const nic = choice('nic', values.nic, ['virtio', 'e1000'] as const) === 'virtio' ? 'virtio-net-pci' : 'e1000';
  const timeoutMs = Number(values.timeout) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new DisklessError('DL_INVALID', `lab: --timeout must be a number of seconds (got "${values.timeout}")`);
  const logger = jsonLogger((l) => process.stderr.write(l), 'warn');
  if (root === 'tiny') return tinyLab(values, nic, timeoutMs, choice);

  const started = Date.now();
  process.stdout.write(`diskless lab: Debian node, root over ${root}${values.copy ? ' (copied to RAM)' : ''}, ${nic}\n`);
  const lab = await DebianLab.start({ mode: root, copy: values.copy, nic, logger, progress: (m) => process.stdout.write(`diskless lab: ${m}\n`) });
  let timer: NodeJS.Timeout | undefined;
  try {
    if (!values.quiet) timer = follow(lab.vm);
    await lab.vm.waitFor(/lab1 login:/, timeoutMs);
    const loginPrompt = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    if (timer) clearInterval(timer);
    const log = await lab.serverLog();
    const reports = log.filter((l) => l['service'] === 'node' && l['mac'] === lab.mac);
    process.stdout.write(`\n\ndiskless lab: ${loginPromptMessage(lab.mac, { commandStarted: started, machineStarted: lab.vm.startedAt, loginPrompt })}\n`);
    process.stdout.write('  boot as the server saw it (from /init and the booted system):\n');
    for (const r of reports) process.stdout.write(`    ${String(r['stage']).padEnd(12)} ${String(r['status']).padEnd(7)} ${String(r['detail'] ?? '')}\n`);
    if (!values.interactive) return reports.some((r) => r['stage'] === 'booted') || (await waitBooted(lab)) ? 0 : 1;
    return await interact(lab);
  } finally {
    if (timer) clearInterval(timer);
    await lab.stop();
  }
}

async function waitBooted(lab: DebianLab): Promise<boolean> {
  for (let i = 0; i < 60; i++) {
    if ((await lab.serverLog()).some((l) => l['service'] === 'node' && l['stage'] === 'booted')) {
      process.stdout.write('    booted       ok\n');
      return true;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  process.stdout.write('  the node did not report "booted" within 30 s of its login prompt\n');
  return false;
}

async function interact(lab: DebianLab): Promise<number> {
  process.stdout.write('diskless lab: your terminal is now the node\'s console (root, no password); Ctrl-] ends\n');
  const timer = follow(lab.vm);
  const stdin = process.stdin;
  if (stdin.isTTY) stdin.setRawMode(true);
  try {
    await new Promise<void>((resolve) => {
      stdin.on('data', (b: Buffer) => {
        if (b.includes(0x1d)) return resolve();
        void lab.vm.type(b.toString('utf8').replace(/\r/g, '\n'));
      });
      stdin.on('end', () => resolve());
      void lab.vm.exited.then(() => resolve());
    });
  } finally {
    clearInterval(timer);
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
  }
  return 0;
}

async function tinyLab(
  values: { firmware: string; dhcp: string; loader: string; quiet: boolean; 'secure-boot': boolean; 'http-boot': boolean },
  nic: 'virtio-net-pci' | 'e1000',
  timeoutMs: number,
  choice: <T extends string>(name: string, v: string, allowed: readonly T[]) => T,
): Promise<number> {
  const firmware = choice('firmware', values.firmware, ['bios', 'uefi', 'uefi-secure-boot'] as const);
  const dhcpMode = choice('dhcp', values.dhcp, ['full', 'proxy'] as const);
  const loader = choice('loader', values.loader, ['ipxe', 'pxelinux', 'grub'] as const);
  if (values['http-boot'] && firmware === 'bios') throw new DisklessError('DL_USAGE', 'diskless lab: --http-boot needs --firmware uefi or uefi-secure-boot (BIOS has no HTTP boot)');
  process.stdout.write(`diskless lab: ${firmware} machine, ${nic}, ${dhcpMode} DHCP, ${loader}; console follows\n`);
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await runLabBoot({
      firmware, nic, dhcpMode, loader, timeoutMs,
      secureBoot: values['secure-boot'],
      ...(values['http-boot'] ? { uefiNetBoot: 'http' as const } : {}),
      logger: jsonLogger((l) => process.stderr.write(l), 'warn'),
      onMachine: (vm) => {
        if (!values.quiet) timer = follow(vm);
      },
    });
    if (timer) clearInterval(timer);
    process.stdout.write(`\n\ndiskless lab: machine ${result.mac} booted in ${(result.durationMs / 1000).toFixed(1)} s\n`);
    for (const l of result.serverLog.filter((x) => x['service'] === 'dhcp' && x['type'] === 'ack')) {
      process.stdout.write(`  dhcp ack   ${String(l['ip'] ?? '')} file ${String(l['file'] ?? '')}\n`);
    }
    for (const l of result.serverLog.filter((x) => (x['service'] === 'http' || x['service'] === 'tftp') && Number(x['bytes']) > 0)) {
      process.stdout.write(`  ${String(l['service']).padEnd(5)} ${String(l['path'] ?? l['file'])} ${String(l['bytes'])} bytes in ${String(l['durationMs'])} ms\n`);
    }
    process.stdout.write(`  kernel command line: ${result.cmdline}\n`);
    return 0;
  } finally {
    if (timer) clearInterval(timer);
  }
}
