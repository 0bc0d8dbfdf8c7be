import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.js';
import { ImageStore } from '../images/store/image-store.js';
import { ImageExports } from '../app/image-exports.js';
import { BootTree } from './boot-tree.js';

async function text(tree: BootTree, path: string): Promise<string | undefined> {
  const f = await tree.resolve(path);
  return f ? (await f.read(0, f.size)).toString() : undefined;
}

test('a profile on a stored image boots the published version, pinned in every URL', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-store-tree-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new ImageStore({ root: join(dir, 'images') });
  const add = async (content: string) => {
    const src = join(dir, `src-${content}`);
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'f'), content);
    execFileSync('mksquashfs', [src, `${src}.sqfs`, '-comp', 'gzip', '-noappend', '-quiet', '-no-progress']);
    await writeFile(`${src}.k`, `kernel-${content}`);
    await writeFile(`${src}.i`, `initrd-${content}`);
    return store.addVersion('deb', { squashfs: `${src}.sqfs`, kernel: `${src}.k`, initrd: `${src}.i`, kernelVersion: '6.1.0-test' });
  };
  const cfg = parseConfig(`server: { address: 10.0.0.1, state_dir: ${dir} }
dhcp: { mode: full, pool: 10.0.0.100-10.0.0.110 }
profiles:
  live: { image: deb, cmdline: quiet }
  net: { image: deb, root: { mode: nbd } }
nodes:
  - { mac: "52:54:00:00:00:01", profile: live }
  - { mac: "52:54:00:00:00:02", profile: net }
`, join(dir, 'd.yaml'));
  const tree = new BootTree(() => cfg, 'http://10.0.0.1', store);

  const v1 = await add('one');
  assert.match((await text(tree, 'boot/52-54-00-00-00-01.ipxe')) ?? '', /cannot boot yet: .*deb/, 'nothing published yet');
  await store.publish('deb', v1.version);
  const s1 = (await text(tree, 'boot/52-54-00-00-00-01.ipxe')) ?? '';
  assert.match(s1, new RegExp(`kernel \\$\\{base\\}/store/deb/${v1.version}/vmlinuz initrd=initrd-0 root=live:http://10\\.0\\.0\\.1/store/deb/${v1.version}/root\\.sqfs rd\\.diskless\\.sha256=${v1.files['root.sqfs'].sha256} `));
  assert.match(s1, new RegExp(`initrd --name initrd-0 \\$\\{base\\}/store/deb/${v1.version}/initrd\\.img`));
  assert.equal(await text(tree, `store/deb/${v1.version}/vmlinuz`), 'kernel-one');

  const v2 = await add('two');
  await store.publish('deb', v2.version);
  assert.match((await text(tree, 'boot/52-54-00-00-00-01.ipxe')) ?? '', new RegExp(`store/deb/${v2.version}/vmlinuz`), 'the new version after a publish');
  assert.equal(await text(tree, `store/deb/${v1.version}/initrd.img`), 'initrd-one', 'the old version stays servable for nodes that run it');
  assert.match((await text(tree, 'boot/52-54-00-00-00-02.ipxe')) ?? '', new RegExp(`root=nbd:10\\.0\\.0\\.1:10809/deb@${v2.version} `));

  const exports = new ImageExports(() => cfg, store);
  t.after(() => exports.close());
  const exp = await exports.open(`deb@${v1.version}`);
  assert.equal(exp?.size, v1.files['root.sqfs'].size);
  assert.equal(await exports.open('deb@0000000000000000'), undefined);
  assert.equal(await exports.open('other@' + v1.version), undefined, 'only images an nbd profile uses');
  for (const bad of ['store/deb/../x/vmlinuz', `store/../${v1.version}/vmlinuz`, `store/deb/${v1.version}/manifest.json`]) assert.equal(await tree.resolve(bad), undefined, bad);
});

test('a profile whose root mode the image\'s initrd cannot attach gets a script that says so, naming the profile', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-store-modes-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new ImageStore({ root: join(dir, 'images') });
  const src = join(dir, 'src');
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'f'), 'x');
  execFileSync('mksquashfs', [src, `${src}.sqfs`, '-comp', 'gzip', '-noappend', '-quiet', '-no-progress']);
  await writeFile(`${src}.k`, 'kernel');
  await writeFile(`${src}.i`, 'initrd');
  // A Red Hat kernel: no nbd.ko, so its initrd attaches live and NFS roots only.
  const v = await store.addVersion('rhel', { squashfs: `${src}.sqfs`, kernel: `${src}.k`, initrd: `${src}.i`, kernelVersion: '5.14.0-503.el9.x86_64', rootModes: ['live', 'nfs'] });
  await store.publish('rhel', v.version);
  const cfg = parseConfig(`server: { address: 10.0.0.1, state_dir: ${dir} }
dhcp: { mode: full, pool: 10.0.0.100-10.0.0.110 }
profiles:
  ram: { image: rhel, root: { mode: live } }
  lazy: { image: rhel, root: { mode: nbd } }
nodes:
  - { mac: "52:54:00:00:00:01", profile: ram }
  - { mac: "52:54:00:00:00:02", profile: lazy }
`, join(dir, 'd.yaml'));
  const tree = new BootTree(() => cfg, 'http://10.0.0.1', store);
  assert.match((await text(tree, 'boot/52-54-00-00-00-01.ipxe')) ?? '', /root=live:/);
  const refused = (await text(tree, 'boot/52-54-00-00-00-02.ipxe')) ?? '';
  assert.match(refused, new RegExp(`cannot boot yet: Cannot boot profile lazy with root mode nbd: image rhel@${v.version} has kernel 5\\.14\\.0-503\\.el9\\.x86_64, which has no nbd module \\(use root mode live or nfs`));
  assert.doesNotMatch(refused, /root=nbd/);
});

test('a node pinned to a stored version boots it while the others boot the published one; a pin of another image is ignored', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-store-pin-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new ImageStore({ root: join(dir, 'images') });
  const add = async (content: string) => {
    const src = join(dir, `src-${content}`);
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'f'), content);
    execFileSync('mksquashfs', [src, `${src}.sqfs`, '-comp', 'gzip', '-noappend', '-quiet', '-no-progress']);
    await writeFile(`${src}.k`, `kernel-${content}`);
    await writeFile(`${src}.i`, `initrd-${content}`);
    return store.addVersion('deb', { squashfs: `${src}.sqfs`, kernel: `${src}.k`, initrd: `${src}.i`, kernelVersion: '6.1.0-test' });
  };
  const cfg = parseConfig(`server: { address: 10.0.0.1, state_dir: ${dir} }
dhcp: { mode: full, pool: 10.0.0.100-10.0.0.110 }
profiles:
  net: { image: deb, root: { mode: nbd } }
nodes:
  - { mac: "52:54:00:00:00:01", profile: net }
  - { mac: "52:54:00:00:00:02", profile: net }
`, join(dir, 'd.yaml'));
  const v1 = await add('one');
  const v2 = await add('two');
  await store.publish('deb', v1.version);
  const pins = new Map([['52:54:00:00:00:01', { image: 'deb', version: v2.version }], ['52:54:00:00:00:02', { image: 'other', version: v2.version }]]);
  const given: string[] = [];
  const tree = new BootTree(() => cfg, 'http://10.0.0.1', store, {
    versionPin: (mac, image) => (pins.get(mac)?.image === image ? pins.get(mac)!.version : undefined),
    onPinned: (mac, _image, version) => given.push(`${mac}=${version}`),
  });
  const s1 = (await text(tree, 'boot/52-54-00-00-00-01.ipxe')) ?? '';
  assert.match(s1, new RegExp(`store/deb/${v2.version}/vmlinuz .*root=nbd:10\\.0\\.0\\.1:10809/deb@${v2.version} `));
  assert.match(s1, new RegExp(`store/deb/${v2.version}/initrd\\.img`));
  assert.match((await text(tree, 'boot/52-54-00-00-00-02.ipxe')) ?? '', new RegExp(`deb@${v1.version} `));
  assert.deepEqual(given, [`52:54:00:00:00:01=${v2.version}`, `52:54:00:00:00:02=${v1.version}`], 'the running-versions record follows the pin');
  pins.delete('52:54:00:00:00:01');
  assert.match((await text(tree, 'boot/52-54-00-00-00-01.ipxe')) ?? '', new RegExp(`deb@${v1.version} `), 'unpinned: the published version again');
});
