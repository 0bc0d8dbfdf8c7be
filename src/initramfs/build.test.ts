import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildInitramfs } from './build.js';
import { listKernelVersions } from './kernel-version.js';
import { listInitramfs } from './list.js';
import { makeElf } from './testdata/elf.js';
import { fakeModuleTree, fakeRoot } from './testdata/fake-root.js';

const hostVersion = (await listKernelVersions('/'))[0];
const tools = ['cpio', 'zstd', 'modprobe'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
const skipHost = hostVersion === undefined || !existsSync('/bin/busybox') || !tools
  ? 'needs a kernel under /lib/modules, busybox-static, cpio, zstd and kmod'
  : false;

function workDir(t: { after: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'initramfs-build-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function initDir(dir: string): string {
  const init = join(dir, 'initdir');
  mkdirSync(join(init, 'stages'), { recursive: true });
  writeFileSync(join(init, 'init'), '#!/bin/sh\nexec /stages/run\n', { mode: 0o755 });
  writeFileSync(join(init, 'stages', '10-net.sh'), 'echo net\n', { mode: 0o640 });
  symlinkSync('10-net.sh', join(init, 'stages', 'net'));
  return init;
}

/** `cpio -t -v` of a zstd archive: the independent check of what was written. */
function cpioListing(path: string): string {
  const raw = spawnSync('zstd', ['-dcq', path], { maxBuffer: 512 * 1024 * 1024 });
  assert.equal(raw.status, 0, raw.stderr?.toString());
  const listing = spawnSync('cpio', ['-t', '-v', '--quiet'], { input: raw.stdout, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(listing.status, 0, listing.stderr.toString());
  return listing.stdout.toString();
}

function modprobeFiles(version: string, name: string): string[] {
  const r = spawnSync('modprobe', ['--show-depends', '-S', version, name], { encoding: 'utf8' });
  return r.stdout.split('\n').flatMap((l) => /^insmod \/lib\/modules\/[^/]+\/(\S+)/.exec(l)?.[1] ?? []);
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

test('--drivers e1000,virtio_net: the NICs, virtio transports and every boot module with its dependencies', { skip: skipHost }, async (t) => {
  const dir = workDir(t);
  const output = join(dir, 'initrd.img');
  const started = Date.now();
  const s = await buildInitramfs({ output, drivers: ['e1000', 'virtio_net'], initDir: initDir(dir), compressionLevel: 3 });
  t.diagnostic(`--drivers e1000,virtio_net: ${s.size} bytes zstd -3 (${s.uncompressedBytes} raw), ${s.moduleCount} modules, ${Date.now() - started} ms`);
  assert.equal(s.kernelVersion, hostVersion);
  assert.equal(s.path, output);
  assert.equal(s.compressedBytes, readFileSync(output).length);

  const text = cpioListing(output);
  const modDir = `usr/lib/modules/${hostVersion}`;
  const wanted = ['e1000', 'virtio_net', 'virtio_pci', 'nfsv4', 'nfsv3', 'nbd', 'squashfs', 'overlay', 'loop'].flatMap((m) => modprobeFiles(hostVersion!, m));
  assert.ok(wanted.includes('kernel/net/sunrpc/sunrpc.ko'));
  for (const path of wanted) assert.match(text, new RegExp(`^-rw-r--r-- .* ${modDir}/${path.replace(/[.]/g, '\\.')}$`, 'm'), path);
  assert.doesNotMatch(text, /r8169\.ko/);
  for (const index of ['modules.dep', 'modules.alias', 'modules.softdep', 'modules.builtin', 'modules.order']) {
    assert.match(text, new RegExp(` ${modDir}/${index}$`, 'm'));
  }
  assert.match(text, /^lrwxrwxrwx .* lib -> usr\/lib$/m);
  assert.match(text, /^crw------- .* 5, +1 .* dev\/console$/m);
  assert.match(text, /^crw-rw-rw- .* 1, +3 .* dev\/null$/m);
  assert.match(text, /^-rwxr-xr-x .* usr\/bin\/busybox$/m);
  assert.match(text, /^lrwxrwxrwx .* usr\/sbin\/modprobe -> \/bin\/busybox$/m);
  assert.match(text, /^-rwxr-xr-x .* init$/m);
  assert.match(text, /^-rw-r----- .* stages\/10-net\.sh$/m);
  assert.match(text, /^lrwxrwxrwx .* stages\/net -> 10-net\.sh$/m);
  assert.match(text, /^drwxrwxrwt .* tmp$/m);

  const listed = await listInitramfs(output);
  assert.equal(listed.length, s.files);
  const manifestEntry = listed.find((e) => e.path === 'etc/diskless-initrd.json');
  assert.ok(manifestEntry);
});

test('the same inputs give the same bytes', { skip: skipHost }, async (t) => {
  const dir = workDir(t);
  const init = initDir(dir);
  const a = await buildInitramfs({ output: join(dir, 'a.img'), drivers: ['e1000'], initDir: init, compression: 'gzip' });
  const b = await buildInitramfs({ output: join(dir, 'b.img'), drivers: ['e1000'], initDir: init, compression: 'gzip' });
  assert.equal(sha256(a.path), sha256(b.path));
  const c = await buildInitramfs({ output: join(dir, 'c.img'), drivers: ['e1000'], initDir: init, compression: 'gzip', mtime: 1_700_000_000 });
  assert.notEqual(sha256(c.path), sha256(a.path));
});

test('busybox modprobe inside the archive loads by name, alias and modalias, soft dependencies first', {
  skip: skipHost || (process.getuid?.() !== 0 ? 'needs root for chroot' : false),
}, async (t) => {
  const dir = workDir(t);
  const output = join(dir, 'initrd.img');
  await buildInitramfs({ output, drivers: ['e1000', 'virtio_net', 'r8169', 'cdc_ether', 'cdc_subset'], initDir: initDir(dir), compressionLevel: 1 });
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  const unpack = spawnSync('sh', ['-c', 'zstd -dcq "$1" | cpio -id --quiet', 'sh', output], { cwd: tree });
  assert.equal(unpack.status, 0, unpack.stderr.toString());
  // busybox looks in /lib/modules/$(uname -r): point the running kernel's name at the archive's.
  const running = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim();
  if (running !== hostVersion) symlinkSync(hostVersion!, join(tree, 'usr/lib/modules', running));
  // -D prints the insmod lines and loads nothing.
  const show = (name: string): string[] => {
    const r = spawnSync('chroot', [tree, '/bin/busybox', 'modprobe', '-D', name], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    return r.stdout.split('\n').map((l) => l.trim().replace(/^insmod \/lib\/modules\/[^/]+\//, '')).filter((l) => l !== '');
  };
  assert.deepEqual(show('e1000'), ['kernel/drivers/net/ethernet/intel/e1000/e1000.ko']);
  assert.deepEqual(show('fs-overlay'), ['kernel/fs/overlayfs/overlay.ko']);
  // QEMU's e1000 and virtio-net-pci as /sys/bus/pci/devices/*/modalias shows them.
  assert.deepEqual(show('pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00'), ['kernel/drivers/net/ethernet/intel/e1000/e1000.ko']);
  assert.deepEqual(show('pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00').at(-1), 'kernel/drivers/virtio/virtio_pci.ko');
  assert.deepEqual(show('virtio:d00000001v00001AF4').at(-1), 'kernel/drivers/net/virtio_net.ko');
  // r8169's "pre: realtek" reaches busybox (which has no softdep) through modules.dep.
  const r8169 = show('r8169');
  assert.ok(r8169.indexOf('kernel/drivers/net/phy/realtek.ko') >= 0 && r8169.indexOf('kernel/drivers/net/phy/realtek.ko') < r8169.indexOf('kernel/drivers/net/ethernet/realtek/r8169.ko'), r8169.join(' '));
  assert.deepEqual(show('nfsv4'), modprobeFiles(hostVersion!, 'nfsv4'));
  // regression: a modalias two drivers match loads them in kmod's order, or the wrong one binds
  // first (QEMU's usb-net: cdc_subset took the data interface with a random MAC, so the NIC never
  // had the MAC that BOOTIF names).
  const usbNet = 'usb:v0525pA4A2d0000dc02dsc00dp00ic02isc06ip00in00';
  assert.deepEqual(show(usbNet), modprobeFiles(hostVersion!, usbNet));
  assert.ok(show(usbNet).indexOf('kernel/drivers/net/usb/cdc_ether.ko') < show(usbNet).indexOf('kernel/drivers/net/usb/cdc_subset.ko'));
});

test('the default carries every network driver; its size is measured', { skip: skipHost }, async (t) => {
  const dir = workDir(t);
  const started = Date.now();
  const s = await buildInitramfs({ output: join(dir, 'all.img'), initDir: initDir(dir) });
  t.diagnostic(`all network drivers: ${s.size} bytes zstd -9 (${s.uncompressedBytes} raw), ${s.moduleCount} modules, ${s.files} entries, ${Date.now() - started} ms`);
  for (const m of ['e1000', 'e1000e', 'igb', 'r8169', 'realtek', 'virtio_net', 'virtio_pci', 'vmxnet3', 'hv_netvsc', 'xen_netfront', 'r8152', 'xhci_pci', 'nfsv4']) {
    assert.ok(s.modules.includes(m), m);
  }
  assert.ok(!s.modules.includes('iwlwifi') && !s.modules.includes('vcan'));
  assert.ok(s.size < 40 * 1024 * 1024);
});

test('an image root: its own modules and binaries, found through its own symlinks', { skip: !existsSync('/bin/busybox') || !tools ? 'needs busybox-static and cpio' : false }, async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  const dir = workDir(t);
  fakeModuleTree(fake, '5.10.0-test', {
    merged: true,
    modules: ['squashfs', 'loop', 'overlay', 'nbd', 'nfs', 'nfsv4', 'mynic'].map((n) => ({ path: `kernel/x/${n}.ko` })),
    builtin: ['kernel/net/packet/af_packet.ko'],
  });
  fake.link('/bin', 'usr/bin');
  fake.file('/usr/bin/tool', makeElf({ interp: '/lib64/ld.so', needed: ['libx.so.1'] }), 0o755);
  fake.link('/lib64', '/usr/lib64');
  fake.file('/usr/lib64/ld.so', makeElf({}), 0o755);
  fake.file('/usr/lib/x86_64-linux-gnu/libx.so.1', makeElf({}));
  const s = await buildInitramfs({ output: join(dir, 'img'), root: fake.root, drivers: ['mynic'], binaries: ['/bin/tool'], initDir: initDir(dir), compression: 'none' });
  assert.equal(s.kernelVersion, '5.10.0-test');
  assert.deepEqual(s.builtin, ['af_packet']);
  assert.equal(s.warnings.some((w) => w.includes('"nfsv3"')), true);
  assert.equal(s.warnings.some((w) => w.includes('the image has no kernel file for 5.10.0-test')), true);
  const listed = new Map((await listInitramfs(s.path)).map((e) => [e.path, e]));
  for (const p of ['usr/lib/modules/5.10.0-test/kernel/x/mynic.ko', 'usr/bin/tool', 'usr/lib64/ld.so', 'usr/lib/x86_64-linux-gnu/libx.so.1', 'etc/diskless-initrd.json']) {
    assert.ok(listed.has(p), p);
  }
  assert.equal(listed.get('lib64')?.target, '/usr/lib64');
  assert.equal(listed.get('bin')?.target, 'usr/bin');
  assert.equal(listed.get('usr/bin/tool')?.mode, 0o755);
  const extracted = spawnSync('cpio', ['-i', '--to-stdout', '--quiet', 'etc/diskless-initrd.json'], { input: readFileSync(s.path), encoding: 'utf8' });
  const manifest = JSON.parse(extracted.stdout) as Record<string, unknown>;
  assert.equal(manifest['kernelVersion'], '5.10.0-test');
  assert.deepEqual((manifest['options'] as Record<string, unknown>)['drivers'], ['mynic']);
});

test('a failed build leaves neither the output nor a temporary file', { skip: !existsSync('/bin/busybox') ? 'needs busybox-static' : false }, async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  const dir = workDir(t);
  fakeModuleTree(fake, '5.10.0-test', { modules: ['squashfs', 'loop', 'overlay', 'nbd', 'nfs', 'nfsv4'].map((n) => ({ path: `kernel/x/${n}.ko` })) });
  const out = join(dir, 'out');
  mkdirSync(out);
  const output = join(out, 'initrd.img');
  await assert.rejects(
    buildInitramfs({ output, root: fake.root, drivers: ['e1000'], initDir: initDir(dir) }),
    /Cannot find kernel module "e1000" for kernel 5\.10\.0-test/,
  );
  chmodSync(join(dir, 'initdir', 'init'), 0o644);
  await assert.rejects(buildInitramfs({ output, root: fake.root, drivers: [], initDir: join(dir, 'initdir') }), /init is not executable/);
  // A source that fails half-way through the archive: the stream errors after bytes were written.
  await assert.rejects(
    buildInitramfs({
      output,
      root: fake.root,
      drivers: [],
      extraFiles: [{ type: 'file', path: 'etc/broken', mode: 0o644, data: { size: 10, stream: async function* () { yield Buffer.from('abc'); } } }],
    }),
    /declared size 10, stream gave 3/,
  );
  assert.deepEqual(readdirSync(out), []);
});
