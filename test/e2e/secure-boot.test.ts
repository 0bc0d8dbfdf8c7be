// The signed chain on real firmware: OVMF with Secure Boot enforced and Microsoft's keys
// enrolled (as machines are sold), Debian's Microsoft-signed shim, Debian-signed GRUB network
// image and Debian-signed kernel, from a real `diskless serve`, on to the lab's Debian root; the
// same machine handed the unsigned iPXE, whose refusal the server must name; OVMF's HTTP boot
// with no TFTP at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { runLabBoot, LAB_ADMIN_URL, LAB_ARM64_ADDRESS, LAB_SERVER, type LabBootResult } from '../../src/lab/tiny-lab.js';
import { DebianLab } from '../../src/lab/debian-lab.js';
import { trixieSignedChain } from '../../src/lab/trixie-signed-chain.js';
import { defaultCacheDir } from '../../src/files/cache-dir.js';
import type { NodeDetail } from '../../src/api/wire.js';
import { hostKernel } from '../../src/lab/lab-host.js';
import { macToHyphens } from '../../src/net/mac.js';

type Line = Record<string, unknown>;
const KERNEL_SIZE = statSync(hostKernel()).size;
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

/** The node as the admin API shows it once its "booted" report is in (the report lands after the login prompt can show). */
async function bootedNode(lab: DebianLab, timeoutMs = 120_000): Promise<NodeDetail> {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 500))) {
    const r = await lab.net.exec(lab.net.name, ['curl', '-sf', '--max-time', '10', `${LAB_ADMIN_URL}/api/v1/nodes/${lab.mac}`], { check: false });
    const node = r.code === 0 ? (JSON.parse(r.stdout) as NodeDetail) : undefined;
    if (node?.status === 'booted') return node;
    if (Date.now() > deadline) throw new Error(`the admin API did not show ${lab.mac} booted within ${timeoutMs / 1000} s: ${r.stdout.slice(0, 2000)}`);
  }
}

test('Secure Boot enforced: shim → GRUB → Debian-signed kernel → our initrd → the live Debian root to its login prompt, locked down; iPXE on the same machine is refused by name', async () => {
  // The lab's bookworm image (its Debian-signed kernel, the network initrd from its signed
  // modules, which the locked-down kernel must accept) on the firmware as sold.
  const lab = await DebianLab.start({ mode: 'live', firmware: 'uefi-secure-boot', profileExtra: '\n    secure_boot: true' });
  try {
    await lab.login();
    const log = await lab.serverLog();
    const from = (service: string, path: string): Line[] => log.filter((l) => l['service'] === service && String(l['path'] ?? l['file']).replace(/^\//, '') === path && Number(l['bytes']) > 0);
    const acks = log.filter((l) => l['service'] === 'dhcp' && l['type'] === 'ack' && l['mac'] === lab.mac);
    assert.ok(acks.some((a) => a['file'] === 'shimx64.efi'), `the firmware was handed shim: ${acks.map((a) => String(a['file'])).join(', ')}`);
    for (const f of ['shimx64.efi', 'grubx64.efi', `grub/grub.cfg-01-${macToHyphens(lab.mac)}`, 'profiles/debian/kernel', 'profiles/debian/initrd-0']) {
      assert.ok(from('tftp', f).length > 0, `TFTP never served ${f} whole`);
    }
    assert.equal(from('tftp', 'profiles/debian/kernel').at(-1)!['bytes'], statSync(lab.image.kernel).size, 'the whole kernel went out');
    // One word a line: a console line is cut where the terminal ends it.
    const cmdline = (await lab.run("tr ' ' '\\n' < /proc/cmdline | grep -E '^(BOOT_IMAGE|BOOTIF|root)='")).split(/\r?\n/).filter(Boolean).join(' ');
    assert.match(cmdline, new RegExp(`^BOOT_IMAGE=\\(tftp,${LAB_SERVER.replace(/\./g, '\\.')}\\)/profiles/debian/kernel `), 'GRUB loaded the kernel');
    assert.match(cmdline, new RegExp(`(^| )BOOTIF=01-${macToHyphens(lab.mac)}( |$)`));
    assert.match(cmdline, /(^| )root=live:http:\/\//);
    // On the node: the SecureBoot EFI variable (what `mokutil --sb-state` reads: 4 bytes of
    // attributes, then 1 for enabled) and the kernel's lockdown, which Secure Boot switched on.
    const sb = await lab.run('mountpoint -q /sys/firmware/efi/efivars || mount -t efivarfs efivarfs /sys/firmware/efi/efivars; echo "sb=$(od -An -tu1 /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c | tr -s " ")"; echo "lockdown=$(cat /sys/kernel/security/lockdown)"');
    assert.match(sb, /^sb= ?\d+ 0 0 0 1$/m, `Secure Boot is enabled on the node: ${sb}`);
    assert.match(sb, /^lockdown=.*\[(integrity|confidentiality)\]/m, `the kernel is locked down: ${sb}`);
    // The admin API's timeline: the firmware's DHCP and downloads, every /init stage, booted.
    const node = await bootedNode(lab);
    assert.deepEqual([node.status, node.hostname], ['booted', 'lab1']);
    const rows = node.timeline.map((row) => `${row.name}:${row.status}`);
    for (const row of ['dhcp:ok', 'load:ok', 'cmdline:ok', 'modules:ok', 'network:ok', 'root:ok', 'overlay:ok', 'switch_root:ok', 'booted:ok']) {
      assert.ok(rows.includes(row), `${row} not on the timeline: ${rows.join(', ')}`);
    }
    assert.deepEqual(node.timeline.filter((row) => row.status !== 'ok').map((row) => row.name), [], 'every timeline row ok');
  } finally {
    await lab.stop();
  }

  const refused = await runLabBoot({ firmware: 'uefi-secure-boot', loader: 'ipxe', secureBoot: false, until: 'loader-refused', timeoutMs: 480_000 });
  acked(refused, /^ipxe\.efi$/);
  fetched(refused, 'tftp', 'ipxe.efi');
  const warn = lines(refused, 'events', (l) => l['msg'] === 'secure boot refused the loader (inferred)' && l['mac'] === refused.mac);
  assert.equal(warn.length, 1);
  assert.equal(warn[0]!['loader'], 'ipxe.efi');
  assert.match(String(warn[0]!['detail']), /Secure Boot refused the loader .*iPXE is not signed/);
  assert.equal(lines(refused, 'http', (l) => String(l['path']).includes('profiles/')).length, 0, 'no kernel was fetched');
  // The admin API (what the dashboard and `diskless status` read) gives the node's boot the
  // failed loader step with the reason, after the firmware's DHCP and the download.
  const node = refused.node;
  assert.ok(node, 'the admin API answered for the node');
  assert.deepEqual([node.status, node.stage], ['failed', 'loader']);
  assert.match(node.cause ?? '', /^Secure Boot refused the loader \(inferred\): ipxe\.efi was downloaded whole .*iPXE is not signed/);
  assert.deepEqual(node.timeline.map((row) => `${row.name}:${row.status}`), ['dhcp:ok', 'load:ok', 'loader:failed']);
  assert.equal(node.timeline.at(-1)!.detail, node.cause);
});

test('UEFI HTTP boot only, Secure Boot enforced, Debian trixie\'s signed chain (shim 16, GRUB 2.12 with HTTP): shim → GRUB → its config, the Debian kernel and our initrd over HTTP, no TFTP at all, to the live root, locked down', async () => {
  // Bookworm's signed GRUB (2.06) has no HTTP and stops here (the server's reason for it:
  // src/events/loader-watch.test.ts); trixie's reads through the firmware's HTTP protocol.
  const chain = await trixieSignedChain(defaultCacheDir());
  const r = await runLabBoot({ firmware: 'uefi-secure-boot', uefiNetBoot: 'http', loader: 'grub', secureBoot: true, signedBootX64: chain, liveRoot: true, timeoutMs: 480_000 });
  acked(r, new RegExp(`^http://${LAB_SERVER.replace(/\./g, '\\.')}/shimx64\\.efi$`));
  fetched(r, 'http', 'shimx64.efi');
  // shim asks for GRUB at the URL it was loaded from with its last segment replaced by its
  // built-in "\grubx64.efi", backslash turned into a slash: //grubx64.efi.
  const grub = fetched(r, 'http', 'grubx64.efi');
  assert.equal(grub['target'], '//grubx64.efi', 'what shim asked for');
  // GRUB's prefix is (http,SERVER)/grub: the bootstrap, then this machine's own config, which
  // names (http,SERVER) for the kernel and initrd because it was itself fetched over HTTP.
  fetched(r, 'http', 'grub/grub.cfg');
  fetched(r, 'http', `grub/grub.cfg-01-${macToHyphens(r.mac)}`);
  assert.equal(fetched(r, 'http', 'profiles/lab/kernel')['bytes'], statSync(r.kernel).size, 'the whole kernel went out');
  fetched(r, 'http', 'profiles/lab/initrd-0');
  fetched(r, 'http', 'images/lab/root.sqfs');
  assert.deepEqual(lines(r, 'tftp', (l) => Number(l['bytes']) > 0), [], 'the firmware, shim, GRUB and /init used HTTP only');
  assert.match(r.cmdline, new RegExp(`^BOOT_IMAGE=\\(http,${LAB_SERVER.replace(/\./g, '\\.')}\\)/profiles/lab/kernel `));
  assert.match(r.cmdline, /(^| )root=live:http:\/\//);
  assert.match(r.cmdline, new RegExp(`(^| )BOOTIF=01-${macToHyphens(r.mac)}( |$)`));
  // The kernel found Secure Boot enforced and locked itself down (its own boot messages), and
  // /init loaded its modules (signed by Debian's key, as lockdown demands) and attached the root.
  assert.match(r.console, /Secure boot enabled/);
  assert.match(r.console, /Kernel is locked down from EFI Secure Boot/);
  const timeline = (r.node?.timeline ?? []).map((row) => `${row.name}:${row.status}`);
  for (const s of ['dhcp:ok', 'load:ok', 'cmdline:ok', 'modules:ok', 'network:ok', 'root:ok']) assert.ok(timeline.includes(s), `${s} not on the timeline: ${timeline.join(', ')}`);
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

test('ARM64 beside x86 in one inventory: AAVMF gets shimaa64.efi → grubaa64.efi → Debian-signed arm64 kernel → our arm64 network initrd to its live root, the BIOS node iPXE', async () => {
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
  assert.match(arm.cmdline, /(^| )root=live:http:\/\//);
  // Our /init ran on arm64 (the kernel it names is the arm64 one), coldplugged virtio_net from
  // the arm64 modules, took its address from our DHCP server (initramfs udhcpc: a second ACK
  // after the firmware's), fetched the live root over HTTP and reported each stage.
  assert.match(arm.console, /Diskless initramfs, kernel [^ ]+-arm64/);
  assert.ok(armAcks.length >= 2, `the arm64 initramfs asked our DHCP server too: ${armAcks.length} ACK(s)`);
  const root = lines(r, 'http', (l) => String(l['path']).replace(/^\//, '') === 'images/lab-arm64/root.sqfs' && String(l['peer']).includes(LAB_ARM64_ADDRESS) && Number(l['bytes']) > 0);
  assert.ok(root.length > 0, `the arm64 node fetched no root over HTTP: ${lines(r, 'http').map((l) => `${String(l['path'])} ${String(l['peer'])}`).join(', ')}`);
  const stages = lines(r, 'node', (l) => l['mac'] === arm.mac).map((l) => `${String(l['stage'])}:${String(l['status'])}`);
  for (const s of ['cmdline:ok', 'modules:ok', 'network:ok', 'root:ok']) assert.ok(stages.includes(s), `${s} not among the arm64 node's reports: ${stages.join(', ')}`);
  // The admin API's timeline shows the same boot: the firmware's steps, then the initramfs stages.
  const timeline = (arm.node?.timeline ?? []).map((row) => `${row.name}:${row.status}`);
  for (const s of ['dhcp:ok', 'network:ok', 'root:ok']) assert.ok(timeline.includes(s), `${s} not on the arm64 node's timeline: ${timeline.join(', ')}`);
});
