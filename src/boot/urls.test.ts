import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bootIfArg,
  bootScriptPath,
  bootUrl,
  httpBaseUrl,
  macFromBootPath,
  macFromPxelinuxName,
  nfsExportPath,
  parseBootPath,
  parseVersionExport,
  profileImagePath,
  profileInitrdPath,
  profileKernelPath,
  pxelinuxConfigPath,
  pxelinuxMacName,
  secretsBaseUrl,
  STORED_FILES,
  storedFilePath,
  versionExport,
} from './urls.js';

const MAC = '52:54:00:ab:cd:ef';
const VERSION = '0123456789abcdef';

test('the listeners\' base URLs: port 80 is left out of the boot URL, the secrets URL always names its port', () => {
  assert.equal(httpBaseUrl({ address: '10.77.0.1', httpPort: 80 }), 'http://10.77.0.1');
  assert.equal(httpBaseUrl({ address: '10.77.0.1', httpPort: 8080 }), 'http://10.77.0.1:8080');
  assert.equal(secretsBaseUrl({ address: '10.77.0.1', httpsPort: 443 }), 'https://10.77.0.1:443');
  assert.equal(bootUrl('http://10.77.0.1:8080', bootScriptPath(MAC)), 'http://10.77.0.1:8080/boot/52-54-00-ab-cd-ef.ipxe');
});

test('every boot path is written as the boot tree serves it and reads back to what it was built from', () => {
  const cases: Array<[string, ReturnType<typeof parseBootPath>]> = [
    [bootScriptPath(MAC), { kind: 'script', mac: MAC }],
    [pxelinuxConfigPath(pxelinuxMacName(MAC)), { kind: 'pxelinux-config', name: '01-52-54-00-ab-cd-ef' }],
    [pxelinuxConfigPath('default'), { kind: 'pxelinux-config', name: 'default' }],
    [profileKernelPath('lab'), { kind: 'profile-kernel', profile: 'lab' }],
    [profileInitrdPath('lab', 2), { kind: 'profile-initrd', profile: 'lab', index: 2 }],
    [profileImagePath('lab'), { kind: 'profile-image', profile: 'lab' }],
    ...STORED_FILES.map((file): [string, ReturnType<typeof parseBootPath>] => [storedFilePath('debian', VERSION, file), { kind: 'stored', image: 'debian', version: VERSION, file }]),
  ];
  assert.deepEqual(cases.map(([path]) => path), [
    'boot/52-54-00-ab-cd-ef.ipxe',
    'pxelinux.cfg/01-52-54-00-ab-cd-ef',
    'pxelinux.cfg/default',
    'profiles/lab/kernel',
    'profiles/lab/initrd-2',
    'images/lab/root.sqfs',
    `store/debian/${VERSION}/root.sqfs`,
    `store/debian/${VERSION}/vmlinuz`,
    `store/debian/${VERSION}/initrd.img`,
  ]);
  for (const [path, parsed] of cases) {
    assert.deepEqual(parseBootPath(path), parsed, path);
    assert.deepEqual(parseBootPath(`/${path}`), parsed, `/${path}: HTTP's leading slash`);
  }
});

test('paths outside the generated names are not boot paths (they go to tftp_root)', () => {
  for (const path of [
    'boot/x/52-54-00-ab-cd-ef.ipxe',
    'x/boot/52-54-00-ab-cd-ef.ipxe',
    'pxelinux.cfg/a/b',
    'profiles/lab/initrd-x',
    'profiles/lab/vmlinuz',
    'store/debian/0123/vmlinuz',
    `store/debian/${VERSION}/manifest.json`,
    `store/debian/${VERSION.toUpperCase()}/vmlinuz`,
    'images/lab/other.sqfs',
    'undionly.kpxe',
  ]) {
    assert.equal(parseBootPath(path), undefined, path);
  }
  // A script name that is not a MAC is still the script namespace: no file from tftp_root.
  assert.deepEqual(parseBootPath('boot/not-a-mac.ipxe'), { kind: 'script', mac: undefined });
});

test('the machine a boot path names: its script or its pxelinux config, in any MAC spelling the tree accepts', () => {
  assert.equal(macFromBootPath(`/${bootScriptPath(MAC)}`), MAC);
  assert.equal(macFromBootPath('/boot/52-54-00-AB-CD-EF.ipxe'), MAC);
  assert.equal(macFromBootPath('boot/52:54:00:ab:cd:ef.ipxe'), MAC);
  assert.equal(macFromBootPath(pxelinuxConfigPath(pxelinuxMacName(MAC))), MAC);
  assert.equal(macFromBootPath('pxelinux.cfg/C0A80001'), undefined);
  assert.equal(macFromBootPath(storedFilePath('debian', VERSION, 'vmlinuz')), undefined);
  assert.equal(macFromPxelinuxName('01-52-54-00-AB-CD-EF'), MAC);
  assert.equal(macFromPxelinuxName('52-54-00-ab-cd-ef'), undefined, 'without the hardware type');
  assert.equal(bootIfArg(MAC), 'BOOTIF=01-52-54-00-ab-cd-ef');
});

test('NBD exports of stored versions are NAME@VERSION; profile exports are not versions', () => {
  assert.equal(versionExport('debian', VERSION), `debian@${VERSION}`);
  assert.deepEqual(parseVersionExport(versionExport('debian', VERSION)), { image: 'debian', version: VERSION });
  assert.equal(parseVersionExport('lab'), undefined);
  assert.equal(parseVersionExport('debian@latest'), undefined);
  assert.equal(parseVersionExport(`@${VERSION}`), undefined);
  assert.equal(nfsExportPath('tree'), '/tree');
});
