// Real QEMU machines PXE-boot from a real `diskless serve` in a private network namespace.
// Each boot proves several things at once: the DHCP answer, what was fetched over which
// protocol and that the bytes arrived whole, and the kernel command line the node ended up with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { runLabBoot, LAB_NODE_ADDRESS, LAB_POOL, LAB_SERVER, RACK_NETWORK, RACK_NODE_ADDRESS, RACK_PORT, type LabBootResult } from '../../src/lab/tiny-lab.js';
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

// A rack behind a router: ISC dhcrelay (option 82, circuit id "rack1") forwards to the server,
// and every byte of the boot crosses the router. The inventory lists the node by its switch
// port only (unknown_clients: deny), so the profile's command line reaching the kernel shows
// the machine was taken for that node. dhcrelay runs with -D, dropping any reply whose option
// 82 names none of its circuits: the replies it forwarded show the echo as the relay read it.
// Meanwhile a second machine on the server's own link boots from that subnet's pool.
test('routed: through a real dhcrelay, a node known only by its switch port gets its rack address and boots, while a node on the server\'s link boots from its pool', async () => {
  const r = await runLabBoot({ firmware: 'bios', nic: 'virtio-net-pci', dhcpMode: 'full', routed: true });
  const acks = lines(r, 'dhcp', (l) => l['type'] === 'ack' && l['mac'] === r.mac);
  assert.ok(acks.length > 0, 'no DHCP ack logged for the machine');
  for (const a of acks) {
    assert.deepEqual([a['ip'], a['giaddr'], a['subnet'], a['circuitId'], a['node']], [RACK_NODE_ADDRESS, `${RACK_NETWORK}.1`, `${RACK_NETWORK}.0/24`, RACK_PORT, 'host:lab1']);
  }
  assert.ok(acks.some((a) => /\.ipxe$/.test(String(a['file']))), 'iPXE was handed its script');
  // The relay forwarded the server's replies to the rack: with -D, only replies echoing rack1.
  const forwarded = [...(r.relayLog ?? '').matchAll(/Forwarded BOOTREPLY for ([0-9a-f:]+) to/g)].map((m) => m[1]);
  assert.ok(forwarded.filter((m) => m === r.mac).length >= acks.length * 2, `dhcrelay forwarded too few replies (an OFFER and an ACK per exchange):\n${(r.relayLog ?? '').slice(-3000)}`);
  // The script and kernel were fetched from the rack address, through the router.
  const script = fetched(r, 'http', `boot/${macToHyphens(r.mac)}.ipxe`);
  assert.match(String(script['peer']), new RegExp(`^(::ffff:)?${RACK_NODE_ADDRESS.replaceAll('.', '\\.')}$`));
  assertIpxeHttpChain(r);
  assertBootedKernel(r);

  // The machine on the server's own link: unrelayed, its subnet's pool, its own script and kernel.
  const d = r.direct;
  assert.ok(d, 'the direct node booted');
  const direct: LabBootResult = { ...r, mac: d.mac, cmdline: d.cmdline, console: d.console };
  const directAcks = lines(r, 'dhcp', (l) => l['type'] === 'ack' && l['mac'] === d.mac);
  assert.ok(directAcks.length > 0, 'no DHCP ack logged for the direct node');
  const poolIp = String(directAcks[0]!['ip']);
  const inPool = (ip: string) => { const n = Number(ip.split('.')[3]); return ip.startsWith('10.77.0.') && n >= Number(LAB_POOL.start.split('.')[3]) && n <= Number(LAB_POOL.end.split('.')[3]); };
  for (const a of directAcks) {
    assert.deepEqual([a['ip'], a['giaddr'] ?? '0.0.0.0', a['subnet'], a['circuitId'], a['node']], [poolIp, '0.0.0.0', '10.77.0.0/24', undefined, d.mac]);
  }
  assert.ok(inPool(poolIp), `${poolIp} is not from the server link's pool ${LAB_POOL.start}-${LAB_POOL.end}`);
  const directScript = fetched(direct, 'http', `boot/${macToHyphens(d.mac)}.ipxe`);
  assert.match(String(directScript['peer']), new RegExp(`^(::ffff:)?${poolIp.replaceAll('.', '\\.')}$`));
  assertBootedKernel(direct);
  assert.ok(!(r.relayLog ?? '').includes(d.mac), 'the direct node never went through the relay');
  // At the same time: each machine's DHCP began before the other had fetched its kernel.
  const firstDhcp = (mac: string) => Date.parse(String(lines(r, 'dhcp', (l) => l['mac'] === mac)[0]!['ts']));
  const kernelAt = (peer: string) => Date.parse(String(lines(r, 'http', (l) => String(l['path']).replace(/^\//, '') === 'profiles/lab/kernel' && String(l['peer']).endsWith(peer)).at(-1)!['ts']));
  assert.ok(firstDhcp(d.mac) < kernelAt(RACK_NODE_ADDRESS) && firstDhcp(r.mac) < kernelAt(poolIp), 'the two boots overlapped');
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
