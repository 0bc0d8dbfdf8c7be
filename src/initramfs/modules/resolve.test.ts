import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { listKernelVersions } from '../kernel-version.js';
import { fakeModuleTree, fakeRoot } from '../testdata/fake-root.js';
import { lookupModule, resolveModules } from './resolve.js';
import { loadModuleTree, type ModuleTree } from './tree.js';
import { moduleNameFromPath } from './names.js';

const hostVersion = (await listKernelVersions('/'))[0];
const hasModprobe = spawnSync('modprobe', ['--version']).status === 0;
const skipHost = hostVersion === undefined || !hasModprobe ? 'needs a kernel under /lib/modules and kmod (linux-image-amd64, kmod)' : false;

/** The .ko files kmod's modprobe would load, the oracle for resolveModules. */
function modprobeFiles(version: string, name: string): string[] {
  const r = spawnSync('modprobe', ['--show-depends', '-S', version, name], { encoding: 'utf8' });
  assert.equal(r.status, 0, `modprobe --show-depends ${name}: ${r.stderr}`);
  const prefix = new RegExp(`^insmod /lib/modules/${version.replace(/[.]/g, '\\.')}/(\\S+)`);
  return [...new Set(r.stdout.split('\n').map((l) => prefix.exec(l)?.[1]).filter((p): p is string => p !== undefined))].sort();
}

function assertLoadOrder(tree: ModuleTree, names: string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    for (const dep of tree.modules.get(name)!.deps) {
      assert.ok(seen.has(moduleNameFromPath(dep)), `${name} comes before its dependency ${dep}`);
    }
    seen.add(name);
  }
}

test('resolution matches `modprobe --show-depends` on the host kernel tree', { skip: skipHost }, async () => {
  const tree = await loadModuleTree('/', hostVersion!);
  for (const name of ['nfsv4', 'nbd', 'overlay', 'squashfs', 'e1000', 'virtio_net', 'loop', 'r8169', 'ext4']) {
    const r = resolveModules(tree, [name]);
    assert.deepEqual(r.errors, [], name);
    assert.deepEqual(r.modules.map((m) => m.path).sort(), modprobeFiles(hostVersion!, name), name);
    assertLoadOrder(tree, r.modules.map((m) => m.name));
  }
});

test('aliases resolve like modprobe: fs-overlay, a PCI modalias of an e1000, virtio, net-pf-17', { skip: skipHost }, async () => {
  const tree = await loadModuleTree('/', hostVersion!);
  assert.deepEqual(lookupModule(tree, 'fs-overlay'), { kind: 'modules', names: ['overlay'] });
  // QEMU's e1000 (82540EM, 8086:100e) as it appears in /sys/bus/pci/devices/*/modalias.
  assert.deepEqual(lookupModule(tree, 'pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00'), { kind: 'modules', names: ['e1000'] });
  assert.deepEqual(lookupModule(tree, 'virtio:d00000001v00001AF4'), { kind: 'modules', names: ['virtio_net'] });
  assert.deepEqual(lookupModule(tree, 'xen-netfront'), { kind: 'modules', names: ['xen_netfront'] });
  const pf = spawnSync('modprobe', ['--show-depends', '-S', hostVersion!, 'net-pf-17'], { encoding: 'utf8' });
  if (/^builtin af_packet/m.test(pf.stdout)) assert.deepEqual(lookupModule(tree, 'net-pf-17'), { kind: 'builtin', name: 'af_packet' });
  // "crc32c" names two modules; kmod loads both, and so must the archive carry both.
  assert.deepEqual(resolveModules(tree, ['libcrc32c']).modules.map((m) => m.path).sort(), modprobeFiles(hostVersion!, 'libcrc32c'));
});

async function fakeTree(): Promise<{ tree: ModuleTree; remove: () => void }> {
  const fake = fakeRoot();
  fakeModuleTree(fake, '9.9.9-test', {
    merged: true,
    modules: [
      { path: 'kernel/net/a.ko', deps: ['kernel/net/c.ko', 'kernel/lib/d.ko'] },
      { path: 'kernel/net/c.ko', deps: ['kernel/lib/d.ko'] },
      { path: 'kernel/lib/d.ko' },
      { path: 'kernel/phy/pre-one.ko.zst' },
      { path: 'kernel/phy/post_one.ko' },
      { path: 'kernel/x/loopy.ko' },
    ],
    aliases: ['alias fs-thing a', 'alias pci:v0000ABCDd*sv*sd*bc02* c', 'alias crypto-pre pre_one'],
    softdeps: ['softdep a pre: crypto-pre missing-soft post: post-one', 'softdep post_one pre: a', 'softdep loopy pre: loopy'],
    builtin: ['kernel/net/packet/af_packet.ko'],
    builtinModinfo: ['af_packet.alias=net-pf-17'],
  });
  return { tree: await loadModuleTree(fake.root, '9.9.9-test'), remove: () => fake.remove() };
}

test('soft dependencies: pre before, post after, unknown ones warned about, cycles cut', async (t) => {
  const { tree, remove } = await fakeTree();
  t.after(remove);
  assert.equal(tree.dir, '/usr/lib/modules/9.9.9-test');
  const r = resolveModules(tree, ['fs-thing']);
  assert.deepEqual(r.modules.map((m) => m.name), ['pre_one', 'd', 'c', 'a', 'post_one']);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, [
    'soft dependency of a: Cannot find kernel module "missing-soft" for kernel 9.9.9-test: not in modules.dep, modules.alias or modules.builtin under ' +
      `${tree.hostDir}`,
  ]);
  // A compressed module is carried as it is: its path keeps the suffix.
  assert.equal(r.modules[0]!.path, 'kernel/phy/pre-one.ko.zst');
  assert.deepEqual(resolveModules(tree, ['loopy']).modules.map((m) => m.name), ['loopy']);
});

test('built-in names and aliases are satisfied without files; unknown names are errors naming the kernel', async (t) => {
  const { tree, remove } = await fakeTree();
  t.after(remove);
  const r = resolveModules(tree, ['af-packet', 'net-pf-17', 'pci:v0000ABCDd00001234sv0sd0bc02sc00i00', 'nosuch', 'post-on'], { optional: ['absent'] });
  assert.deepEqual(r.builtin, ['af_packet']);
  assert.deepEqual(r.modules.map((m) => m.name), ['d', 'c']);
  assert.equal(r.errors.length, 2);
  assert.equal(
    r.errors[0],
    `Cannot find kernel module "nosuch" for kernel 9.9.9-test: not in modules.dep, modules.alias or modules.builtin under ${tree.hostDir}`,
  );
  assert.match(r.errors[1]!, /^Cannot find kernel module "post-on" for kernel 9\.9\.9-test: .* \(did you mean post_one\?\)$/);
  assert.equal(r.warnings.filter((w) => w.includes('"absent"')).length, 1);
});
