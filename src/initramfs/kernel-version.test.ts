import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { bzImageVersion, chooseKernelVersion, compareKernelVersions, findKernel, findKernels, KernelChoiceError, listKernelVersions } from './kernel-version.js';
import { fakeRoot, type FakeRoot } from './testdata/fake-root.js';

/** An x86 bzImage's first bytes as the boot protocol lays them out, carrying `release` as its version string. */
function bzImageHead(release: string): Buffer {
  const b = Buffer.alloc(0x1000);
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(0x020f, 0x206);
  // kernel_version: offset of the string minus 0x200.
  b.writeUInt16LE(0x800 - 0x200, 0x20e);
  b.write(`${release} (builder@host) #1 SMP PREEMPT_DYNAMIC\0`, 0x800, 'latin1');
  return b;
}

function modules(fake: FakeRoot, dir: string, version: string): void {
  fake.file(`${dir}/${version}/modules.dep`);
}

test('kernel versions order by their numbers, not as strings', () => {
  assert.ok(compareKernelVersions('6.1.0-56-amd64', '6.1.0-9-amd64') > 0);
  assert.ok(compareKernelVersions('6.10.0-1-amd64', '6.9.12-amd64') > 0);
  assert.equal(compareKernelVersions('6.1.0-56-amd64', '6.1.0-56-cloud-amd64'), 0);
});

test('a bzImage says its own version; anything else says none', () => {
  assert.equal(bzImageVersion(bzImageHead('6.12.48-arch1-1')), '6.12.48-arch1-1');
  assert.equal(bzImageVersion(Buffer.from('kernel 6.1.0\n')), undefined);
  const noMagic = bzImageHead('6.1.0');
  noMagic.write('XXXX', 0x202, 'latin1');
  assert.equal(bzImageVersion(noMagic), undefined);
  const pastEnd = bzImageHead('6.1.0');
  pastEnd.writeUInt16LE(0xfff0, 0x20e);
  assert.equal(bzImageVersion(pastEnd), undefined);
  const host = '/boot/vmlinuz-6.1.0-57-amd64';
  if (existsSync(host)) assert.equal(bzImageVersion(readFileSync(host).subarray(0, 0x8000)), '6.1.0-57-amd64', 'Debian\'s own kernel');
});

test('Debian: /boot/vmlinuz-VERSION with its modules under /lib/modules (merged /usr)', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  fake.link('/lib', 'usr/lib');
  modules(fake, '/usr/lib/modules', '6.1.0-9-amd64');
  fake.file('/boot/vmlinuz-6.1.0-9-amd64', 'kernel');
  const k = await findKernel(fake.root);
  assert.deepEqual({ ...k, hostPath: undefined }, { version: '6.1.0-9-amd64', path: '/boot/vmlinuz-6.1.0-9-amd64', hostPath: undefined, modulesDir: '/lib/modules/6.1.0-9-amd64' });
  assert.equal(k.hostPath, `${fake.root}/boot/vmlinuz-6.1.0-9-amd64`);
});

test('Red Hat: the kernel only at /usr/lib/modules/VERSION/vmlinuz, no /boot at all', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  fake.link('/lib', 'usr/lib');
  modules(fake, '/usr/lib/modules', '5.14.0-503.el9.x86_64');
  fake.file('/usr/lib/modules/5.14.0-503.el9.x86_64/vmlinuz', 'kernel');
  const k = await findKernel(fake.root);
  assert.equal(k.version, '5.14.0-503.el9.x86_64');
  assert.equal(k.path, '/lib/modules/5.14.0-503.el9.x86_64/vmlinuz');
  assert.equal(k.hostPath, `${fake.root}/usr/lib/modules/5.14.0-503.el9.x86_64/vmlinuz`);
});

test('a tree whose /lib is a real directory and whose modules are only under /usr/lib/modules', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  fake.file('/lib/x86_64-linux-gnu/libc.so.6');
  modules(fake, '/usr/lib/modules', '6.11.4-301.fc41.x86_64');
  fake.file('/usr/lib/modules/6.11.4-301.fc41.x86_64/vmlinuz', 'kernel');
  assert.deepEqual(await listKernelVersions(fake.root), ['6.11.4-301.fc41.x86_64']);
  const k = await findKernel(fake.root);
  assert.equal(k.modulesDir, '/usr/lib/modules/6.11.4-301.fc41.x86_64');
  assert.equal(await chooseKernelVersion(fake.root), '6.11.4-301.fc41.x86_64');
});

test('Arch: /boot/vmlinuz-linux, its version read from the kernel file, else from the modules\' pkgbase', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  fake.link('/lib', 'usr/lib');
  modules(fake, '/usr/lib/modules', '6.12.48-arch1-1');
  modules(fake, '/usr/lib/modules', '6.6.100-1-lts');
  fake.file('/boot/vmlinuz-linux', bzImageHead('6.12.48-arch1-1'));
  const k = await findKernel(fake.root);
  assert.equal(k.version, '6.12.48-arch1-1', 'not "linux"');
  assert.equal(k.path, '/boot/vmlinuz-linux');

  // A kernel whose header cannot be read (not x86): the package it came from names it.
  fake.file('/boot/vmlinuz-linux-lts', 'an arm64 Image');
  fake.file('/usr/lib/modules/6.6.100-1-lts/pkgbase', 'linux-lts\n');
  const all = await findKernels(fake.root);
  assert.deepEqual(all.kernels.map((x) => [x.version, x.path]), [['6.12.48-arch1-1', '/boot/vmlinuz-linux'], ['6.6.100-1-lts', '/boot/vmlinuz-linux-lts']]);
  assert.deepEqual(all.strays, []);
});

test('several kernels: the one named, the one /vmlinuz names, else the newest; two flavours of one version must be named', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  for (const v of ['6.1.0-9-amd64', '6.1.0-56-amd64']) {
    modules(fake, '/lib/modules', v);
    fake.file(`/boot/vmlinuz-${v}`, 'kernel');
  }
  // Fedora keeps a copy in /boot and the original beside the modules: one kernel, not two.
  modules(fake, '/lib/modules', '6.0.0-1.fc37.x86_64');
  fake.file('/lib/modules/6.0.0-1.fc37.x86_64/vmlinuz', 'kernel');
  fake.file('/boot/vmlinuz-6.0.0-1.fc37.x86_64', 'kernel');
  assert.deepEqual((await findKernels(fake.root)).kernels.map((k) => k.version), ['6.1.0-56-amd64', '6.1.0-9-amd64', '6.0.0-1.fc37.x86_64']);
  assert.equal((await findKernel(fake.root)).version, '6.1.0-56-amd64', 'the newest');
  assert.equal((await findKernel(fake.root, '6.1.0-9-amd64')).version, '6.1.0-9-amd64', 'the one named');
  await assert.rejects(findKernel(fake.root, '5.10.0-1-amd64'), /Cannot find kernel 5\.10\.0-1-amd64 in .*: it has 6\.1\.0-56-amd64, 6\.1\.0-9-amd64, 6\.0\.0-1\.fc37\.x86_64/);
  fake.link('/vmlinuz', 'boot/vmlinuz-6.1.0-9-amd64');
  assert.equal((await findKernel(fake.root)).version, '6.1.0-9-amd64', 'the one /vmlinuz names');

  const two = fakeRoot();
  t.after(() => two.remove());
  for (const v of ['6.1.0-56-amd64', '6.1.0-56-cloud-amd64']) {
    modules(two, '/lib/modules', v);
    two.file(`/boot/vmlinuz-${v}`, 'kernel');
  }
  await assert.rejects(findKernel(two.root), (e: unknown) => e instanceof KernelChoiceError && /it has 6\.1\.0-56-amd64, 6\.1\.0-56-cloud-amd64; name one \(--kernel VERSION\)/.test(e.message));
});

test('no kernel: the error lists where it looked and what it found instead', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  await assert.rejects(findKernel(fake.root), (e: unknown) =>
    e instanceof KernelChoiceError && e.code === 'DL_NO_KERNEL' &&
    /looked for \/boot\/vmlinuz-VERSION, \/usr\/lib\/modules\/VERSION\/vmlinuz, \/lib\/modules\/VERSION\/vmlinuz, and \/boot\/vmlinuz-NAME or \/boot\/vmlinuz .*; found none of them$/.test(e.message));
  // A kernel without modules, modules without a kernel, a kernel whose version nothing says.
  fake.file('/boot/vmlinuz-6.2.0-1-amd64', 'kernel');
  modules(fake, '/lib/modules', '6.1.0-9-amd64');
  fake.file('/boot/vmlinuz-custom', 'kernel');
  await assert.rejects(findKernel(fake.root), (e: unknown) => e instanceof KernelChoiceError && e.message.endsWith(
    '; found only /boot/vmlinuz-6.2.0-1-amd64 (kernel 6.2.0-1-amd64, but no modules.dep for it); ' +
      '/boot/vmlinuz-custom (its version is neither in its header nor in a modules directory\'s pkgbase); ' +
      '/lib/modules/6.1.0-9-amd64 (modules for 6.1.0-9-amd64, but no kernel file)'));
});

test('modules without a kernel file: chooseKernelVersion falls back to the module directories', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  await assert.rejects(chooseKernelVersion(fake.root), /no \/lib\/modules\/VERSION\/modules.dep or \/usr\/lib\/modules\/VERSION\/modules.dep in .* \(the image needs a kernel package\)/);
  fake.file('/lib/modules/6.1.0-9-amd64/modules.dep');
  fake.file('/lib/modules/6.1.0-9-amd64.old-leftover/x'); // no modules.dep: not a choice
  assert.equal(await chooseKernelVersion(fake.root), '6.1.0-9-amd64');
  fake.file('/lib/modules/6.1.0-56-amd64/modules.dep');
  assert.deepEqual(await listKernelVersions(fake.root), ['6.1.0-56-amd64', '6.1.0-9-amd64']);
  assert.equal(await chooseKernelVersion(fake.root), '6.1.0-56-amd64');
  fake.file('/lib/modules/6.1.0-56-cloud-amd64/modules.dep');
  await assert.rejects(chooseKernelVersion(fake.root), /has modules for 6\.1\.0-56-amd64, 6\.1\.0-56-cloud-amd64, 6\.1\.0-9-amd64; name one/);
  fake.file('/boot/vmlinuz-6.1.0-9-amd64');
  fake.link('/vmlinuz', 'boot/vmlinuz-6.1.0-9-amd64');
  assert.equal(await chooseKernelVersion(fake.root), '6.1.0-9-amd64');
});

test('a kernel symlink is resolved inside the image, never on the host', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  modules(fake, '/lib/modules', '6.1.0-57-amd64');
  // On the host this names a real kernel; inside the image it names nothing.
  fake.link('/boot/vmlinuz-6.1.0-57-amd64', '/boot/../../../../../../boot/vmlinuz-6.1.0-57-amd64');
  assert.deepEqual((await findKernels(fake.root)).kernels, []);
});
