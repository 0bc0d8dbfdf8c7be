import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeModuleTree, fakeRoot } from '../testdata/fake-root.js';
import { resolveModules } from './resolve.js';
import { loadModuleTree } from './tree.js';
import { moduleIndexFiles } from './write-index.js';

test('indexes list only the carried modules, with "pre:" soft dependencies folded into modules.dep', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  fakeModuleTree(fake, '1.0.0', {
    modules: [
      { path: 'kernel/eth/r8169.ko', deps: ['kernel/phy/mdio_devres.ko', 'kernel/phy/libphy.ko'] },
      { path: 'kernel/phy/realtek.ko', deps: ['kernel/phy/libphy.ko'] },
      { path: 'kernel/phy/mdio_devres.ko', deps: ['kernel/phy/libphy.ko'] },
      { path: 'kernel/phy/libphy.ko' },
      { path: 'kernel/other/unused.ko' },
      { path: 'kernel/other/after.ko' },
    ],
    aliases: [
      'alias pci:v000010ECd00008168sv*sd*bc*sc*i* r8169',
      'alias mdio:0000000000011100110010?????????? realtek',
      'alias fs-unused unused',
    ],
    softdeps: ['softdep r8169 pre: realtek post: after', 'softdep unused pre: libphy'],
    builtin: ['kernel/net/packet/af_packet.ko'],
  });
  const tree = await loadModuleTree(fake.root, '1.0.0');
  const files = Object.fromEntries(moduleIndexFiles(tree, resolveModules(tree, ['r8169']).modules).map((f) => [f.name, f.content]));
  assert.deepEqual(Object.keys(files), ['modules.alias', 'modules.builtin', 'modules.dep', 'modules.devname', 'modules.order', 'modules.softdep']);
  // busybox loads a line's dependencies from the last to the first: libphy, mdio_devres, realtek, then r8169.
  assert.equal(
    files['modules.dep'],
    [
      'kernel/eth/r8169.ko: kernel/phy/realtek.ko kernel/phy/mdio_devres.ko kernel/phy/libphy.ko',
      'kernel/phy/realtek.ko: kernel/phy/libphy.ko',
      'kernel/phy/mdio_devres.ko: kernel/phy/libphy.ko',
      'kernel/phy/libphy.ko:',
      'kernel/other/after.ko:',
      '',
    ].join('\n'),
  );
  assert.equal(
    files['modules.alias'],
    // Reversed from the image's modules.alias: busybox loads one alias's modules in reverse file order.
    '# Aliases of the modules in this initramfs.\nalias mdio:0000000000011100110010?????????? realtek\nalias pci:v000010ECd00008168sv*sd*bc*sc*i* r8169\n',
  );
  assert.equal(files['modules.softdep'], '# Soft dependencies of the modules in this initramfs.\nsoftdep r8169 pre: realtek post: after\n');
  assert.equal(files['modules.builtin'], 'kernel/net/packet/af_packet.ko\n');
  assert.equal(files['modules.order'], 'kernel/eth/r8169.ko\nkernel/phy/realtek.ko\nkernel/phy/mdio_devres.ko\nkernel/phy/libphy.ko\nkernel/other/after.ko\n');
});

test('a soft dependency on an alias several modules claim stays out of modules.dep (busybox would stop at one that refuses the CPU)', async (t) => {
  const fake = fakeRoot();
  t.after(() => fake.remove());
  fakeModuleTree(fake, '1.0.0', {
    modules: [
      { path: 'kernel/fs/ext4/ext4.ko', deps: ['kernel/lib/crc16.ko'] },
      { path: 'kernel/lib/crc16.ko' },
      { path: 'kernel/arch/x86/crypto/crc32c-intel.ko' },
      { path: 'kernel/crypto/crc32c_generic.ko' },
    ],
    aliases: ['alias crypto-crc32c crc32c_intel', 'alias crypto-crc32c crc32c_generic'],
    softdeps: ['softdep ext4 pre: crypto-crc32c'],
    builtin: [],
  });
  const tree = await loadModuleTree(fake.root, '1.0.0');
  const resolved = resolveModules(tree, ['ext4']).modules;
  assert.deepEqual(resolved.map((m) => m.name).sort(), ['crc16', 'crc32c_generic', 'crc32c_intel', 'ext4'], 'both alternatives are carried');
  const files = Object.fromEntries(moduleIndexFiles(tree, resolved).map((f) => [f.name, f.content]));
  assert.match(files['modules.dep'] ?? '', /^kernel\/fs\/ext4\/ext4\.ko: kernel\/lib\/crc16\.ko$/m);
  assert.match(files['modules.alias'] ?? '', /alias crypto-crc32c crc32c_generic/);
});
