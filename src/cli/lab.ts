import { parseArgs } from 'node:util';
import { jsonLogger } from '../log/logger.js';
import { runLabBoot } from '../app/lab-boot.js';
import { cleanConsole } from '../lab/console-text.js';

const HELP = `Usage: diskless lab [--firmware bios|uefi] [--nic virtio|e1000] [--dhcp full|proxy]
                   [--loader ipxe|pxelinux] [--timeout SECONDS] [--quiet]

Boots one virtual machine (QEMU, no disk) from a real "diskless serve" inside a private network
namespace and shows its console: firmware PXE, DHCP, iPXE or pxelinux, kernel and initramfs.
With --dhcp proxy a foreign DHCP server (dnsmasq) hands out the address and Diskless answers
as proxyDHCP. Needs root; everything it creates is removed when it ends.
`;

export async function labCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      firmware: { type: 'string', default: 'bios' },
      nic: { type: 'string', default: 'virtio' },
      dhcp: { type: 'string', default: 'full' },
      loader: { type: 'string', default: 'ipxe' },
      timeout: { type: 'string', default: '300' },
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
    if (!(allowed as readonly string[]).includes(v)) throw new Error(`lab: --${name} must be one of ${allowed.join(', ')} (got "${v}")`);
    return v as T;
  };
  const firmware = choice('firmware', values.firmware, ['bios', 'uefi'] as const);
  const nic = choice('nic', values.nic, ['virtio', 'e1000'] as const);
  const dhcpMode = choice('dhcp', values.dhcp, ['full', 'proxy'] as const);
  const loader = choice('loader', values.loader, ['ipxe', 'pxelinux'] as const);
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new Error(`lab: --timeout must be a number of seconds (got "${values.timeout}")`);

  process.stdout.write(`diskless lab: ${firmware} machine, ${nic} NIC, ${dhcpMode} DHCP, ${loader}; console follows\n`);
  let shown = 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await runLabBoot({
      firmware,
      nic: nic === 'virtio' ? 'virtio-net-pci' : 'e1000',
      dhcpMode,
      loader,
      timeoutMs: timeout * 1000,
      logger: jsonLogger((l) => process.stderr.write(l), 'warn'),
      onMachine: (vm) => {
        if (values.quiet) return;
        timer = setInterval(() => {
          const text = cleanConsole(vm.consoleText());
          if (text.length > shown) process.stdout.write(text.slice(shown));
          shown = text.length;
        }, 200);
      },
    });
    if (timer) clearInterval(timer);
    const fetched = result.serverLog.filter((l) => (l['service'] === 'http' || l['service'] === 'tftp') && typeof l['bytes'] === 'number' && (l['bytes'] as number) > 0);
    process.stdout.write(`\n\ndiskless lab: machine ${result.mac} booted in ${(result.durationMs / 1000).toFixed(1)} s\n`);
    for (const l of result.serverLog.filter((x) => x['service'] === 'dhcp' && x['type'] === 'ack')) {
      process.stdout.write(`  dhcp ack   ${String(l['ip'] ?? '')} file ${String(l['file'] ?? '')}\n`);
    }
    for (const l of fetched) process.stdout.write(`  ${String(l['service']).padEnd(5)} ${String(l['path'] ?? l['file'])} ${String(l['bytes'])} bytes in ${String(l['durationMs'])} ms\n`);
    process.stdout.write(`  kernel command line: ${result.cmdline}\n`);
    return 0;
  } finally {
    if (timer) clearInterval(timer);
  }
}
