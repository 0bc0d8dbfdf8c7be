// The signed chain on real firmware: OVMF with Secure Boot enforced and Microsoft's keys
// enrolled (as machines are sold), Debian's Microsoft-signed shim, Debian-signed GRUB network
// image and Debian-signed kernel, from a real `diskless serve`; the same machine handed the
// unsigned iPXE, whose refusal the server must name; OVMF's HTTP boot with no TFTP at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { runLabBoot, LAB_SERVER, type LabBootResult } from '../../src/lab/tiny-lab.js';
import { hostKernel } from '../../src/lab/lab-host.js';
import { macToHyphens } from '../../src/net/mac.js';

type Line = Record<string, unknown>;
const KERNEL_SIZE = statSync(hostKernel()).size;
const SB_LINE = /DISKLESS-SB sb=(.*) lockdown=(.*)/;

// The tiny /init prints what the kernel read from the SecureBoot EFI variable at start (what
// `mokutil --sb-state` reads; efivarfs is a module in Debian's kernel, and the tiny initrd has
// none) and the kernel's lockdown state.
const SB_PROBE = [
  'mount -t securityfs securityfs /sys/kernel/security 2>/dev/null',
  'echo "DISKLESS-SB sb=$(dmesg | grep -o \'Secure boot enabled\' | head -n 1) lockdown=$(cat /sys/kernel/security/lockdown 2>/dev/null)" > /dev/console',
].join('\n');

function lines(r: LabBootResult, service: string, pred: (l: Line) => boolean = () => true): Line[] {
  return r.serverLog.filter((l) => l['service'] === service && pred(l));
}

function fetched(r: LabBootResult, service: 'http' | 'tftp', path: string): Line {
  const hit = lines(r, service, (l) => String(l['path'] ?? l['file']).replace(/^\//, '') === path && Number(l['bytes']) > 0);
  assert.ok(hit.length > 0, `${service} never served ${path}; served: ${lines(r, service).map((l) => `${String(l['path'] ?? l['file'])}=${String(l['bytes'])}`).join(', ')}`);
  return hit.at(-1)!;
}

function acked(r: LabBootResult, file: RegExp): void {
  const acks = lines(r, 'dhcp', (l) => l['type'] === 'ack' && l['mac'] === r.mac);
  assert.ok(acks.some((a) => file.test(String(a['file']))), `no ack carried a file matching ${file}: ${acks.map((a) => String(a['file'])).join(', ')}`);
}

function assertGrubBooted(r: LabBootResult, via: 'http' | 'tftp'): void {
  // shim fetches GRUB the way it was itself fetched.
  fetched(r, via, 'grubx64.efi');
  // Debian's signed GRUB network image speaks TFTP only (no http module): its config, kernel
  // and initrd come over TFTP, from (tftp,SERVER).
  fetched(r, 'tftp', `grub/grub.cfg-01-${macToHyphens(r.mac)}`);
  assert.equal(fetched(r, 'tftp', 'profiles/lab/kernel')['bytes'], KERNEL_SIZE, 'the whole kernel went out');
  fetched(r, 'tftp', 'profiles/lab/initrd-0');
  assert.match(r.cmdline, /(^| )console=ttyS0( |$)/);
  assert.match(r.cmdline, /(^| )diskless\.lab=[0-9a-f]{8}( |$)/);
  assert.match(r.cmdline, new RegExp(`(^| )BOOTIF=01-${macToHyphens(r.mac)}( |$)`));
  assert.match(r.cmdline, new RegExp(`^BOOT_IMAGE=\\(tftp,${LAB_SERVER.replace(/\./g, '\\.')}\\)/profiles/lab/kernel `));
}

test('Secure Boot enforced: shim → GRUB → Debian-signed kernel → our initrd, locked down; iPXE on the same machine is refused by name', async () => {
  const r = await runLabBoot({ firmware: 'uefi-secure-boot', loader: 'ipxe', secureBoot: true, probe: SB_PROBE, timeoutMs: 480_000 });
  acked(r, /^shimx64\.efi$/);
  fetched(r, 'tftp', 'shimx64.efi');
  assertGrubBooted(r, 'tftp');
  const sb = SB_LINE.exec(r.console);
  assert.ok(sb, `no Secure Boot line on the console:\n${r.console.slice(-3000)}`);
  assert.equal(sb[1], 'Secure boot enabled', 'the kernel found Secure Boot enforced');
  assert.match(sb[2]!, /\[(integrity|confidentiality)\]/, 'the kernel is locked down');

  const refused = await runLabBoot({ firmware: 'uefi-secure-boot', loader: 'ipxe', secureBoot: false, until: 'loader-refused', timeoutMs: 480_000 });
  acked(refused, /^ipxe\.efi$/);
  fetched(refused, 'tftp', 'ipxe.efi');
  const warn = lines(refused, 'events', (l) => l['msg'] === 'secure boot refused the loader (inferred)' && l['mac'] === refused.mac);
  assert.equal(warn.length, 1);
  assert.equal(warn[0]!['loader'], 'ipxe.efi');
  assert.match(String(warn[0]!['detail']), /Secure Boot refused the loader .*iPXE is not signed/);
  assert.equal(lines(refused, 'http', (l) => String(l['path']).includes('profiles/')).length, 0, 'no kernel was fetched');
});

test('UEFI HTTP boot only (no TFTP at all), loader ipxe: the ipxe.efi URL, then its script and the kernel over HTTP', async () => {
  const r = await runLabBoot({ firmware: 'uefi', uefiNetBoot: 'http', loader: 'ipxe', timeoutMs: 480_000 });
  acked(r, new RegExp(`^http://${LAB_SERVER.replace(/\./g, '\\.')}/ipxe\\.efi$`));
  fetched(r, 'http', 'ipxe.efi');
  fetched(r, 'http', `boot/${macToHyphens(r.mac)}.ipxe`);
  assert.equal(fetched(r, 'http', 'profiles/lab/kernel')['bytes'], KERNEL_SIZE);
  assert.match(r.cmdline, new RegExp(`(^| )BOOTIF=01-${macToHyphens(r.mac)}( |$)`));
  assert.deepEqual(lines(r, 'tftp', (l) => l['mac'] === r.mac || Number(l['bytes']) > 0), [], 'nothing went over TFTP');
});

test('ARM64 beside x86 in one inventory: AAVMF gets shimaa64.efi → grubaa64.efi → Debian-signed arm64 kernel, the BIOS node iPXE', async () => {
  const r = await runLabBoot({ firmware: 'bios', loader: 'ipxe', arm64Companion: true, timeoutMs: 600_000 });
  // The x86 node: iPXE as ever.
  acked(r, /\.ipxe$/);
  assert.match(r.cmdline, new RegExp(`(^| )BOOTIF=01-${macToHyphens(r.mac)}( |$)`));
  // The arm64 node: architecture 11 gets the arm64 signed chain and its own profile's kernel.
  const arm = r.arm64!;
  const armAcks = lines(r, 'dhcp', (l) => l['type'] === 'ack' && l['mac'] === arm.mac);
  assert.ok(armAcks.some((a) => a['file'] === 'shimaa64.efi'), `arm64 acks: ${armAcks.map((a) => String(a['file'])).join(', ')}`);
  fetched(r, 'tftp', 'shimaa64.efi');
  fetched(r, 'tftp', 'grubaa64.efi');
  fetched(r, 'tftp', `grub/grub.cfg-01-${macToHyphens(arm.mac)}`);
  fetched(r, 'tftp', 'profiles/lab-arm64/kernel');
  fetched(r, 'tftp', 'profiles/lab-arm64/initrd-0');
  assert.match(arm.cmdline, /(^| )console=ttyAMA0( |$)/);
  assert.match(arm.cmdline, new RegExp(`(^| )BOOTIF=01-${macToHyphens(arm.mac)}( |$)`));
  assert.match(arm.cmdline, /^BOOT_IMAGE=\(tftp,[0-9.]+\)\/profiles\/lab-arm64\/kernel /);
  assert.match(arm.console, /aarch64|AArch64|ARM64|arm64/i);
});
