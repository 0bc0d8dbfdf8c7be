import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const REQUIRED_TOOLS = ['ip', 'qemu-system-x86_64'];

function onPath(tool: string): boolean {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * Throws, naming what is missing, unless this host can run the lab: root (namespaces, taps)
 * and QEMU. Lab tests call it first so that a host that cannot run them fails loudly instead
 * of reporting skipped tests that look like a pass.
 */
export function assertLabHost(): void {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('not running as root (network namespaces and tap devices need it)');
  for (const tool of REQUIRED_TOOLS) if (!onPath(tool)) problems.push(`${tool} not found on PATH`);
  if (problems.length > 0) {
    throw new Error(`Cannot run lab tests on this host: ${problems.join('; ')}. ` +
      'Run them as root with qemu-system-x86 and iproute2 installed (scripts/install-deps.sh).');
  }
}

/** The newest /boot/vmlinuz-* of the host, used as the guests' kernel. */
export function hostKernel(bootDir = '/boot'): string {
  const kernels = readdirSync(bootDir)
    .filter((n) => n.startsWith('vmlinuz-'))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const newest = kernels.at(-1);
  if (newest === undefined) throw new Error(`Cannot find a kernel: no vmlinuz-* in ${bootDir} (install linux-image-amd64)`);
  return join(bootDir, newest);
}
