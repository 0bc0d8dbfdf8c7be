// Real QEMU machines PXE-boot from a real `diskless serve` in a private network namespace.
// Each boot proves several things at once: the DHCP answer, what was fetched over which
// protocol and that the bytes arrived whole, and the kernel command line the node ended up with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { runLabBoot, LAB_NODE_ADDRESS, LAB_SERVER, type LabBootResult } from '../../src/lab/tiny-lab.js';
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

function assertBootedKernel(r: LabBootResult): void {
  // The node saw the profile's command line plus BOOTIF for the NIC it booted from.
  assert.match(r.cmdline, /(^| )console=ttyS0( |$)/);
  assert.match(r.cmdline, /(^| )diskless\.lab=[0-9a-f]{8}( |$)/);
  assert.match(r.cmdline, new RegExp(`(^| )BOOTIF=01-${macToHyphens(r.mac)}( |$)`));
}

function assertFullDhcp(r: LabBootResult, file: RegExp): void {
  const acks = lines(r, 'dhcp', (l) => l['type'] === 'ack' && l['mac'] === r.mac);
  assert.ok(acks.length > 0, 'no DHCP ack logged for the machine');
  for (const a of acks) assert.equal(a['ip'], LAB_NODE_ADDRESS, 'the reservation, not a pool address');
  assert.ok(acks.some((a) => file.test(String(a['file']))), `no ack carried a file matching ${file}: ${acks.map((a) => String(a['file'])).join(', ')}`);
}

function assertIpxeHttpChain(r: LabBootResult): void {
  const script = fetched(r, 'http', `boot/${macToHyphens(r.mac)}.ipxe`);
  assert.equal(script['status'], 200);
  const kernel = fetched(r, 'http', 'profiles/lab/kernel');
  assert.equal(kernel['bytes'], KERNEL_SIZE, 'the whole kernel went out');
  fetched(r, 'http', 'profiles/lab/initrd-0');
}

test('BIOS, iPXE ROM, virtio-net, full DHCP: DHCP → HTTP script → kernel + initrd', async () => {
  const r = await runLabBoot({ firmware: 'bios', nic: 'virtio-net-pci', dhcpMode: 'full' });
  assertFullDhcp(r, new RegExp(`^http://${LAB_SERVER}/boot/${macToHyphens(r.mac)}\\.ipxe$`));
  assertIpxeHttpChain(r);
  assertBootedKernel(r);
  // The shipped default (answer_router_solicitations: auto, not set in the lab's config) found
  // the lab bridge IPv4-only and told iPXE "no IPv6 router here".
  const decided = r.serverLog.filter((l) => l['msg'] === 'answering IPv6 router solicitations');
  assert.equal(decided.length, 1, 'the server decided to answer router solicitations');
  assert.equal(decided[0]!['setting'], 'auto');
  assert.equal(decided[0]!['interface'], 'br0');
  assert.ok(lines(r, 'ra', (l) => l['msg'] === 'router solicitation answered').length > 0, 'no router solicitation of the node was answered');
});

test('BIOS, iPXE ROM, e1000, full DHCP: the same chain on another NIC', async () => {
  const r = await runLabBoot({ firmware: 'bios', nic: 'e1000', dhcpMode: 'full' });
  assertFullDhcp(r, /\.ipxe$/);
  assertIpxeHttpChain(r);
  assertBootedKernel(r);
});

test('proxyDHCP beside a foreign dnsmasq: address from dnsmasq, boot from us', async () => {
  const r = await runLabBoot({ firmware: 'bios', nic: 'virtio-net-pci', dhcpMode: 'proxy' });
  // We never handed out an address…
  assert.deepEqual(lines(r, 'dhcp', (l) => typeof l['ip'] === 'string' && l['ip'] !== '0.0.0.0' && (l['type'] === 'offer' || l['type'] === 'ack')), []);
  assert.ok(lines(r, 'dhcp', (l) => l['type'] === 'offer' && l['mac'] === r.mac).length > 0, 'no proxy offer logged');
  // …yet the machine fetched its script from an address in dnsmasq's range.
  const script = fetched(r, 'http', `boot/${macToHyphens(r.mac)}.ipxe`);
  assert.match(String(script['peer']), /^(::ffff:)?10\.77\.0\.(5\d|60)$/);
  assertIpxeHttpChain(r);
  assertBootedKernel(r);
});

// The profile lists a boot menu: pxelinux shows it with menu.c32 and, untouched, boots the
// default entry (the rescue one here, not the first) when the timeout runs out.
test('legacy pxelinux: pxelinux.0 over TFTP reads its per-MAC config, a boot menu (menu.c32) whose timeout boots the default entry', async () => {
  const r = await runLabBoot({
    firmware: 'bios', nic: 'virtio-net-pci', dhcpMode: 'full', loader: 'pxelinux',
    profileExtra: '\n    menu:\n      timeout: 1\n      default: rescue\n      entries:\n        - { name: lab, profile: lab }\n        - { name: rescue, rescue: true }\n        - { name: again, profile: lab, label: "The lab profile again" }',
  });
  assertFullDhcp(r, /^pxelinux\.0$/);
  fetched(r, 'tftp', 'pxelinux.0');
  fetched(r, 'tftp', 'ldlinux.c32');
  fetched(r, 'tftp', `pxelinux.cfg/01-${macToHyphens(r.mac)}`);
  for (const module of ['menu.c32', 'libutil.c32']) fetched(r, 'tftp', module);
  assert.match(r.cmdline, /(^| )rd\.break=root rd\.shell( |$)/, 'the default entry, the rescue one, booted');
  assert.equal(fetched(r, 'tftp', 'profiles/lab/kernel')['bytes'], KERNEL_SIZE);
  fetched(r, 'tftp', 'profiles/lab/initrd-0');
  // (The test's own read of the admin API after the boot is the only HTTP request allowed.)
  assert.deepEqual(lines(r, 'http', (l) => l['listener'] !== 'admin'), [], 'pxelinux uses TFTP only');
  assertBootedKernel(r);
});

test('UEFI: OVMF PXE loads ipxe.efi over TFTP, which fetches the script and kernel over HTTP', async () => {
  const r = await runLabBoot({ firmware: 'uefi', nic: 'virtio-net-pci', dhcpMode: 'full', timeoutMs: 360_000 });
  assertFullDhcp(r, /^ipxe\.efi$/);
  assertFullDhcp(r, /\.ipxe$/);
  fetched(r, 'tftp', 'ipxe.efi');
  assertIpxeHttpChain(r);
  assertBootedKernel(r);
});
