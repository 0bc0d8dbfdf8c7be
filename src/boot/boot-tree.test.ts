import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { parseConfig } from '../config/load.js';
import { BootTree } from './boot-tree.js';

async function fixture(t: { after(fn: () => Promise<void>): void }, extra = '') {
  const dir = await mkdtemp(join(tmpdir(), 'dl-tree-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const d of ['ipxe', 'sys', 'root', 'boot']) await mkdir(join(dir, d));
  await writeFile(join(dir, 'ipxe', 'undionly.kpxe'), 'UNDI');
  await writeFile(join(dir, 'sys', 'pxelinux.0'), 'PXELINUX');
  await writeFile(join(dir, 'boot', 'vmlinuz'), 'KERNEL');
  await writeFile(join(dir, 'boot', 'initrd'), 'INITRD');
  await writeFile(join(dir, 'root', 'hello.txt'), 'hi');
  await writeFile(join(dir, 'boot', 'root.sqfs'), 'SQUASHFS');
  await writeFile(join(dir, 'secret'), 'nope');
  const yaml = `server:
  address: 10.77.0.1
  http_port: 8080
  ipxe_dir: ipxe
  syslinux_dirs: [sys]
  tftp_root: root
dhcp: { mode: full, pool: 10.77.0.100-10.77.0.110 }
profiles:
  default:
    kernel: boot/vmlinuz
    initrd: boot/initrd
    cmdline: console=ttyS0
  live:
    kernel: boot/vmlinuz
    root: { mode: live, image: boot/root.sqfs, copy: true, retry: 30 }
  net:
    kernel: boot/vmlinuz
    root: { mode: nbd, image: boot/root.sqfs, overlay: none }
    cmdline: quiet
  tree:
    kernel: boot/vmlinuz
    root: { mode: nfs, dir: boot }
  old:
    kernel: boot/vmlinuz
    initrd: [boot/initrd, boot/initrd]
    cmdline: quiet
    loader: pxelinux
nodes:
  - { mac: "52:54:00:00:00:01", hostname: n1, address: 10.77.0.11 }
  - { mac: "52:54:00:00:00:02", hostname: n2, profile: old, cmdline: rd.debug }
  - { mac: "52:54:00:00:00:03", profile: live }
  - { mac: "52:54:00:00:00:04", profile: net }
  - { mac: "52:54:00:00:00:05", profile: tree }
${extra}`;
  const cfg = parseConfig(yaml, join(dir, 'diskless.yaml'));
  return new BootTree(() => cfg, 'http://10.77.0.1:8080');
}

async function text(tree: BootTree, path: string): Promise<string | undefined> {
  const f = await tree.resolve(path);
  return f ? (await f.read(0, f.size)).toString() : undefined;
}

test('per-MAC iPXE script boots the node profile with BOOTIF', async (t) => {
  const tree = await fixture(t);
  const s = await text(tree, 'boot/52-54-00-00-00-01.ipxe');
  assert.ok(s);
  assert.match(s, /^#!ipxe\n/);
  assert.match(s, /\nkernel \$\{base\}\/profiles\/default\/kernel initrd=initrd-0 console=ttyS0 BOOTIF=01-52-54-00-00-00-01 \|\| goto failed\n/);
  assert.match(s, /\ninitrd --name initrd-0 \$\{base\}\/profiles\/default\/initrd-0 \|\| goto failed\n/);
  assert.match(s, /\nset base http:\/\/10\.77\.0\.1:8080\n/);
  assert.match(s, /booting n1 \(52:54:00:00:00:01\)/);
});

test('unknown MAC without default profile gets an explanation, not a boot', async (t) => {
  const tree = await fixture(t);
  const s = await text(tree, '/boot/52:54:00:00:00:99.ipxe');
  assert.match(s ?? '', /not in the inventory/);
  assert.doesNotMatch(s ?? '', /kernel/);
});

test('unknown MAC boots the default profile when one is set', async (t) => {
  const tree = await fixture(t, 'default_profile: old\n');
  assert.match((await text(tree, 'boot/52-54-00-00-00-99.ipxe')) ?? '', /profiles\/old\/kernel initrd=initrd-0 initrd=initrd-1 quiet BOOTIF=01-52-54-00-00-00-99/);
});

test('pxelinux configs by MAC, hex address and default', async (t) => {
  const tree = await fixture(t);
  const byMac = await text(tree, 'pxelinux.cfg/01-52-54-00-00-00-02');
  assert.ok(byMac);
  assert.match(byMac, /\n {2}KERNEL profiles\/old\/kernel\n {2}INITRD profiles\/old\/initrd-0,profiles\/old\/initrd-1\n {2}APPEND quiet rd\.debug\n {2}IPAPPEND 2\n/);
  assert.match((await text(tree, 'pxelinux.cfg/0A4D000B')) ?? '', /profile default/);
  assert.equal(await tree.resolve('pxelinux.cfg/0A4D000C'), undefined);
  assert.equal(await tree.resolve('pxelinux.cfg/01-52-54-00-00-00-99'), undefined);
  assert.match((await text(tree, 'pxelinux.cfg/default')) ?? '', /LOCALBOOT 0/);
});

test('loaders, profile files and the extra root; nothing outside', async (t) => {
  const tree = await fixture(t);
  assert.equal(await text(tree, 'undionly.kpxe'), 'UNDI');
  assert.equal(await text(tree, '/pxelinux.0'), 'PXELINUX');
  assert.equal(await text(tree, 'profiles/default/kernel'), 'KERNEL');
  assert.equal(await text(tree, 'profiles/old/initrd-1'), 'INITRD');
  assert.equal(await tree.resolve('profiles/old/initrd-2'), undefined);
  assert.equal(await tree.resolve('profiles/nope/kernel'), undefined);
  assert.equal(await text(tree, 'hello.txt'), 'hi');
  for (const bad of ['../secret', 'boot/../../secret', 'x/../../secret', 'hello.txt\0', 'ipxe.efi']) {
    assert.equal(await tree.resolve(bad), undefined, bad);
  }
});

test('root= arguments for live (with the image digest), nbd and nfs roots', async (t) => {
  const tree = await fixture(t);
  const sha = createHash('sha256').update('SQUASHFS').digest('hex');
  assert.match((await text(tree, 'boot/52-54-00-00-00-03.ipxe')) ?? '',
    new RegExp(`kernel \\$\\{base\\}/profiles/live/kernel root=live:http://10\\.77\\.0\\.1:8080/images/live/root\\.sqfs rd\\.diskless\\.sha256=${sha} rd\\.diskless\\.copy rd\\.retry=30 diskless\\.server=http://10\\.77\\.0\\.1:8080 BOOTIF=`));
  assert.match((await text(tree, 'boot/52-54-00-00-00-04.ipxe')) ?? '', / root=nbd:10\.77\.0\.1:10809\/net rd\.diskless\.overlay=none rd\.retry=180 diskless\.server=http:\/\/10\.77\.0\.1:8080 quiet BOOTIF=/);
  assert.match((await text(tree, 'pxelinux.cfg/01-52-54-00-00-00-05')) ?? '', /\n {2}APPEND root=nfs4:10\.77\.0\.1:\/tree rd\.retry=180 diskless\.server=http:\/\/10\.77\.0\.1:8080\n/);
  assert.equal(await text(tree, 'images/live/root.sqfs'), 'SQUASHFS');
  assert.equal(await tree.resolve('images/tree/root.sqfs'), undefined, 'an nfs profile has no image to fetch');
});
