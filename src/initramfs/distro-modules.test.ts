// Module trees as other distributions ship them, built into an initramfs from real modules of
// this host's kernel: compressed (.ko.gz, .ko.xz, .ko.zst), under /usr/lib/modules only, with
// the image's modprobe.d, NIC firmware, and no nbd.ko. busybox modprobe, the initramfs' own
// loader, then resolves them inside the unpacked archive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildInitramfs } from './build.js';
import { listKernelVersions } from './kernel-version.js';
import { fakeRoot, hostModulesInto } from './testdata/fake-root.js';

const hostVersion = (await listKernelVersions('/')).find((v) => existsSync(`/lib/modules/${v}/kernel/drivers/net/ethernet/intel/e1000/e1000.ko`));
const tools = ['cpio', 'zstd', 'xz', 'modprobe'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
const skip = hostVersion === undefined || !existsSync('/bin/busybox') || !tools
  ? 'needs Debian\'s kernel with plain .ko modules under /lib/modules (linux-image-amd64), busybox-static, cpio, zstd, xz-utils and kmod'
  : false;
const skipChroot = skip || (process.getuid?.() !== 0 ? 'needs root for chroot' : false);

const NICS = ['e1000', 'r8169'];
const BOOT = ['squashfs', 'loop', 'overlay'];

function workDir(t: { after: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'distro-modules-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'init'));
  writeFileSync(join(dir, 'init', 'init'), '#!/bin/sh\n', { mode: 0o755 });
  return dir;
}

function unpack(archive: string, into: string): void {
  mkdirSync(into);
  const r = spawnSync('sh', ['-c', 'cpio -id --quiet < "$1"', 'sh', archive], { cwd: into });
  assert.equal(r.status, 0, r.stderr.toString());
}

/** busybox modprobe -D inside the unpacked archive: the insmod lines it would run (nothing is loaded). */
function modprobeIn(tree: string, version: string, name: string): string[] {
  const running = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim();
  if (running !== version && !existsSync(join(tree, 'lib/modules', running))) symlinkSync(version, join(tree, 'lib/modules', running));
  const r = spawnSync('chroot', [tree, '/bin/busybox', 'modprobe', '-D', name], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${name}: ${r.stderr}`);
  return r.stdout.split('\n').map((l) => l.trim().replace(/^insmod \/lib\/modules\/[^/]+\//, '')).filter((l) => l !== '');
}

for (const how of ['gzip', 'xz', 'zstd'] as const) {
  test(`${how}-compressed modules under /usr/lib/modules (no /lib link) become plain .ko files busybox modprobe loads`, { skip: skipChroot }, async (t) => {
    const dir = workDir(t);
    const fake = fakeRoot();
    t.after(() => fake.remove());
    // /lib is a real directory here: the modules are only under /usr/lib/modules.
    fake.file('/lib/x86_64-linux-gnu/.keep');
    const plain = hostModulesInto(fake, hostVersion!, [...NICS, ...BOOT], how);
    const output = join(dir, 'initrd.img');
    const s = await buildInitramfs({ output, root: fake.root, kernelVersion: hostVersion!, drivers: NICS, initDir: join(dir, 'init'), compression: 'none' });
    assert.ok(s.modules.includes('e1000') && s.modules.includes('realtek') && s.modules.includes('squashfs'), s.modules.join(' '));

    const tree = join(dir, 'tree');
    unpack(output, tree);
    const modDir = join(tree, 'lib/modules', hostVersion!);
    for (const [path, host] of plain) {
      assert.ok(readFileSync(join(modDir, path)).equals(readFileSync(host)), `${path}: the plain module, byte for byte`);
      assert.equal(existsSync(join(modDir, `${path}${how === 'gzip' ? '.gz' : how === 'xz' ? '.xz' : '.zst'}`)), false);
    }
    const dep = readFileSync(join(modDir, 'modules.dep'), 'utf8');
    assert.doesNotMatch(dep, /\.ko\.(gz|xz|zst)/);
    assert.match(dep, /^kernel\/drivers\/net\/ethernet\/realtek\/r8169\.ko: kernel\/drivers\/net\/phy\/realtek\.ko .*kernel\/drivers\/net\/phy\/libphy\.ko$/m);
    assert.doesNotMatch(readFileSync(join(modDir, 'modules.order'), 'utf8'), /\.ko\./);
    const manifest = JSON.parse(readFileSync(join(tree, 'etc/diskless-initrd.json'), 'utf8')) as { modules: Array<{ path: string }> };
    assert.ok(manifest.modules.every((m) => m.path.endsWith('.ko')));

    assert.deepEqual(modprobeIn(tree, hostVersion!, 'e1000'), ['kernel/drivers/net/ethernet/intel/e1000/e1000.ko']);
    assert.deepEqual(modprobeIn(tree, hostVersion!, 'pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00'), ['kernel/drivers/net/ethernet/intel/e1000/e1000.ko']);
    assert.deepEqual(modprobeIn(tree, hostVersion!, 'fs-squashfs'), ['kernel/fs/squashfs/squashfs.ko']);
    const r8169 = modprobeIn(tree, hostVersion!, 'r8169');
    assert.equal(r8169.at(-1), 'kernel/drivers/net/ethernet/realtek/r8169.ko');
    assert.ok(r8169.includes('kernel/drivers/net/phy/realtek.ko'), r8169.join(' '));
  });
}

test('the image\'s modprobe.d applies in the initramfs: options reach the module, a blacklist stops its alias, /etc overrides the distribution', { skip: skipChroot }, async (t) => {
  const dir = workDir(t);
  const fake = fakeRoot();
  t.after(() => fake.remove());
  fake.link('/lib', 'usr/lib');
  hostModulesInto(fake, hostVersion!, [...NICS, ...BOOT], 'xz');
  fake.file('/usr/lib/modprobe.d/50-nic.conf', 'options e1000 debug=1\n');
  fake.file('/etc/modprobe.d/50-nic.conf', '# the admin\'s own\noptions e1000 debug=16 copybreak=0\n');
  fake.file('/etc/modprobe.d/blacklist-realtek.conf', 'blacklist r8169\n');
  fake.file('/etc/modprobe.d/README', 'not a .conf: kmod ignores it\n');
  fake.link('/etc/modprobe.d/masked.conf', '/dev/null');
  fake.file('/usr/lib/modprobe.d/masked.conf', 'blacklist e1000\n');
  const output = join(dir, 'initrd.img');
  const s = await buildInitramfs({ output, root: fake.root, kernelVersion: hostVersion!, drivers: NICS, initDir: join(dir, 'init'), compression: 'none' });
  assert.deepEqual(s.modprobeConfig, ['/etc/modprobe.d/50-nic.conf', '/etc/modprobe.d/blacklist-realtek.conf', '/etc/modprobe.d/masked.conf']);
  const tree = join(dir, 'tree');
  unpack(output, tree);
  assert.equal(readFileSync(join(tree, 'etc/modprobe.d/50-nic.conf'), 'utf8'), '# the admin\'s own\noptions e1000 debug=16 copybreak=0\n');
  assert.equal(readFileSync(join(tree, 'etc/modprobe.d/masked.conf'), 'utf8'), '');
  assert.equal(existsSync(join(tree, 'etc/modprobe.d/README')), false);
  assert.deepEqual(modprobeIn(tree, hostVersion!, 'e1000'), ['kernel/drivers/net/ethernet/intel/e1000/e1000.ko debug=16 copybreak=0']);
  // Coldplug loads by modalias: a blacklisted module is passed over, as kmod does.
  assert.deepEqual(modprobeIn(tree, hostVersion!, 'pci:v000010ECd00008168sv00001AF4sd00001100bc02sc00i00'), []);
  assert.deepEqual(modprobeIn(tree, hostVersion!, 'pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00'), ['kernel/drivers/net/ethernet/intel/e1000/e1000.ko debug=16 copybreak=0'], 'the masked file blacklists nothing');
});

test('firmware the carried drivers name is added when the image has it (symlinks followed inside the image, compressed firmware as it is)', { skip }, async (t) => {
  const dir = workDir(t);
  const fake = fakeRoot();
  t.after(() => fake.remove());
  fake.link('/lib', 'usr/lib');
  hostModulesInto(fake, hostVersion!, ['r8169', 'tg3', ...BOOT], 'zstd');
  const named = (m: string): string[] => spawnSync('modinfo', ['-k', hostVersion!, '-F', 'firmware', m], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  const r8169 = named('r8169');
  const tg3 = named('tg3');
  assert.ok(r8169.includes('rtl_nic/rtl8168d-1.fw') && tg3.includes('tigon/tg3_tso5.bin'), 'the drivers name these files');
  fake.file('/usr/lib/firmware/rtl_nic/rtl8168d-1.fw', 'rtl firmware');
  // linux-firmware links one name to another file; the kernel follows the link.
  fake.file('/usr/lib/firmware/tigon/tg3_tso5-real.bin', 'tg3 firmware');
  fake.link('/usr/lib/firmware/tigon/tg3_tso5.bin', 'tg3_tso5-real.bin');
  // Arch and Fedora compress firmware; the kernel loads "NAME.zst" or "NAME.xz" when it was built to.
  fake.file('/usr/lib/firmware/tigon/tg3.bin.zst', 'compressed tg3 firmware');
  fake.file('/usr/lib/firmware/unrelated.bin', 'no driver names it');
  const output = join(dir, 'initrd.img');
  const s = await buildInitramfs({ output, root: fake.root, kernelVersion: hostVersion!, drivers: ['r8169', 'tg3'], initDir: join(dir, 'init'), compression: 'none' });
  assert.deepEqual(s.firmware, ['rtl_nic/rtl8168d-1.fw', 'tigon/tg3.bin', 'tigon/tg3_tso5.bin']);
  assert.equal(s.firmwareMissing, new Set([...r8169, ...tg3]).size - 3);
  const tree = join(dir, 'tree');
  unpack(output, tree);
  assert.equal(readFileSync(join(tree, 'lib/firmware/rtl_nic/rtl8168d-1.fw'), 'utf8'), 'rtl firmware');
  assert.equal(readFileSync(join(tree, 'lib/firmware/tigon/tg3_tso5.bin'), 'utf8'), 'tg3 firmware');
  assert.equal(readFileSync(join(tree, 'lib/firmware/tigon/tg3.bin.zst'), 'utf8'), 'compressed tg3 firmware');
  assert.equal(existsSync(join(tree, 'lib/firmware/unrelated.bin')), false);
});

test('a kernel without nbd.ko: the initrd is built for live and NFS roots and says so; requiring NBD is an error', { skip }, async (t) => {
  const dir = workDir(t);
  const fake = fakeRoot();
  t.after(() => fake.remove());
  fake.link('/lib', 'usr/lib');
  hostModulesInto(fake, hostVersion!, ['e1000', 'nfsv4', ...BOOT], 'xz');
  const output = join(dir, 'initrd.img');
  const s = await buildInitramfs({ output, root: fake.root, kernelVersion: hostVersion!, drivers: ['e1000'], initDir: join(dir, 'init'), compression: 'none' });
  assert.deepEqual(s.rootModes, ['live', 'nfs']);
  assert.ok(s.modules.includes('nfsv4') && !s.modules.includes('nbd'));
  assert.ok(s.warnings.includes(`kernel ${hostVersion} has no nbd module: this initrd cannot attach NBD roots (a profile with root mode nbd refuses it)`), s.warnings.join('\n'));
  assert.ok(!s.warnings.some((w) => w.includes('Cannot find kernel module "nbd"')));
  await assert.rejects(
    buildInitramfs({ output: join(dir, 'nbd.img'), root: fake.root, kernelVersion: hostVersion!, drivers: ['e1000'], requireRootModes: ['nbd'], initDir: join(dir, 'init'), compression: 'none' }),
    /Cannot find kernel module "nbd" for kernel/,
  );
  assert.equal(existsSync(join(dir, 'nbd.img')), false);
});
