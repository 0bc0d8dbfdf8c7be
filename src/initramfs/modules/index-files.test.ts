import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseBuiltinModinfo,
  parseModulesAlias,
  parseModulesBuiltin,
  parseModulesDep,
  parseModulesSoftdep,
} from './index-files.js';
import { moduleNameFromPath, normalizeAlias } from './names.js';

test('modules.dep lines give the path and the full dependency list in depmod order', () => {
  const deps = parseModulesDep(
    [
      'kernel/fs/nfs/nfsv4.ko: kernel/net/dns_resolver/dns_resolver.ko kernel/fs/nfs/nfs.ko',
      'kernel/drivers/block/loop.ko:',
      'garbage line without colon',
      'kernel/drivers/net/xen-netfront.ko.zst: kernel/drivers/xen/xen-x.ko.zst',
      '',
    ].join('\n'),
  );
  assert.deepEqual(deps, [
    { path: 'kernel/fs/nfs/nfsv4.ko', deps: ['kernel/net/dns_resolver/dns_resolver.ko', 'kernel/fs/nfs/nfs.ko'] },
    { path: 'kernel/drivers/block/loop.ko', deps: [] },
    { path: 'kernel/drivers/net/xen-netfront.ko.zst', deps: ['kernel/drivers/xen/xen-x.ko.zst'] },
  ]);
});

test('module names: basename up to the first dot, "-" as "_"', () => {
  assert.equal(moduleNameFromPath('kernel/drivers/net/xen-netfront.ko.zst'), 'xen_netfront');
  assert.equal(moduleNameFromPath('kernel/arch/x86/crypto/crc32c-intel.ko'), 'crc32c_intel');
  assert.equal(normalizeAlias('fs-overlay'), 'fs_overlay');
  // Inside a class "-" is a range and must survive.
  assert.equal(normalizeAlias('pci:v*bc0[2-3]sc-*'), 'pci:v*bc0[2-3]sc_*');
});

test('softdep lines: pre and post lists, names before "pre:"/"post:" ignored as kmod ignores them', () => {
  const soft = parseModulesSoftdep(
    [
      '# Soft dependencies extracted from modules themselves.',
      'softdep r8169 pre: realtek',
      'softdep vfio post: vfio_iommu_type1 vfio_iommu_spapr_tce',
      'softdep pcengines-apuv2 pre: platform:gpio_amd_fch platform:leds-gpio post: x',
      'softdep cifs gcm',
    ].join('\n'),
  );
  assert.deepEqual(soft, [
    { module: 'r8169', pre: ['realtek'], post: [] },
    { module: 'vfio', pre: [], post: ['vfio_iommu_type1', 'vfio_iommu_spapr_tce'] },
    { module: 'pcengines_apuv2', pre: ['platform:gpio_amd_fch', 'platform:leds-gpio'], post: ['x'] },
  ]);
});

test('alias, builtin and builtin.modinfo parsing', () => {
  assert.deepEqual(parseModulesAlias('# c\nalias fs-overlay overlay\nalias pci:v*d* e1000e\nbogus\n'), [
    { pattern: 'fs-overlay', module: 'overlay' },
    { pattern: 'pci:v*d*', module: 'e1000e' },
  ]);
  assert.deepEqual(parseModulesBuiltin('kernel/net/packet/af_packet.ko\nkernel/net/unix/unix.ko\n'), [
    'kernel/net/packet/af_packet.ko',
    'kernel/net/unix/unix.ko',
  ]);
  const modinfo = Buffer.from('af_packet.alias=net-pf-17\0af_packet.license=GPL\0crc32c_generic.alias=crypto-crc32c\0', 'utf8');
  assert.deepEqual(parseBuiltinModinfo(modinfo), [
    { pattern: 'net-pf-17', module: 'af_packet' },
    { pattern: 'crypto-crc32c', module: 'crc32c_generic' },
  ]);
});
