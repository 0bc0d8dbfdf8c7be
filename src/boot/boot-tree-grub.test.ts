// The names the signed chain asks for (shim, GRUB, GRUB's configs) and what the tree answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.js';
import { ImageStore } from '../images/store/image-store.js';
import { BootTree } from './boot-tree.js';
import { peImage } from '../config/testdata/pe-image.js';
import { grubShape } from './testdata/grub-model.js';

async function text(tree: BootTree, path: string, peer?: string): Promise<string | undefined> {
  const f = await tree.resolve(path, peer);
  return f ? (await f.read(0, f.size)).toString() : undefined;
}

async function fixture(t: { after(fn: () => Promise<void>): void }, o: { httpPort?: number; tftpPort?: number; unknown?: string } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'dl-grub-tree-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'efi'));
  for (const f of ['shimx64', 'grubx64', 'shimaa64', 'grubaa64']) await writeFile(join(dir, 'efi', `${f}.signed`), f.toUpperCase());
  await writeFile(join(dir, 'signed-vmlinuz'), peImage({ certificate: {} }));
  await writeFile(join(dir, 'initrd'), 'INITRD');
  const yaml = `server:
  address: 10.77.0.1
  http_port: ${o.httpPort ?? 80}
  tftp_port: ${o.tftpPort ?? 69}
  state_dir: ${dir}/state
  signed_boot:
    x64: { shim: efi/shimx64.signed, grub: efi/grubx64.signed }
    arm64: { shim: efi/shimaa64.signed, grub: efi/grubaa64.signed }
dhcp: { mode: full, pool: 10.77.0.100-10.77.0.110, unknown_clients: ${o.unknown ?? 'deny'} }
profiles:
  sb:
    kernel: signed-vmlinuz
    initrd: initrd
    cmdline: console=ttyS0
    secure_boot: true
  arm:
    image: debarm
    loader: grub
    secure_boot: true
nodes:
  - { mac: "52:54:00:00:00:01", hostname: n1, address: 10.77.0.11, profile: sb }
  - { mac: "52:54:00:00:00:02", hostname: n2, profile: arm }
${o.unknown === 'allow' ? 'default_profile: sb\n' : ''}`;
  const cfg = parseConfig(yaml, join(dir, 'diskless.yaml'));
  const store = new ImageStore({ root: join(dir, 'state', 'images') });
  const tokens: string[] = [];
  const tree = new BootTree(() => cfg, 'http://10.77.0.1', store, {
    tokenFor: async (mac, peer) => (peer === '10.77.0.11' ? (tokens.push(mac), 'tok_1') : undefined),
    secretsUrl: 'https://10.77.0.1:443',
  });
  return { dir, tree, store, tokens };
}

test('shim and GRUB are served by the names DHCP and shim use, from server.signed_boot', async (t) => {
  const { tree } = await fixture(t);
  assert.equal(await text(tree, 'shimx64.efi'), 'SHIMX64');
  assert.equal(await text(tree, '/grubx64.efi'), 'GRUBX64');
  // shim's HTTP boot asks for "//grubx64.efi": the same file.
  assert.equal(await text(tree, '//grubx64.efi'), 'GRUBX64');
  assert.equal(await text(tree, 'shimaa64.efi'), 'SHIMAA64');
  assert.equal(await text(tree, 'grubaa64.efi'), 'GRUBAA64');
  assert.equal(await text(tree, 'grub/x86_64-efi/grub.cfg'), undefined, 'GRUB tries it first; a miss sends it to grub.cfg');
});

test("a machine's GRUB config by MAC and by address carries its token and BOOTIF; the bootstrap is the same for all", async (t) => {
  const { tree, tokens } = await fixture(t);
  const boot = await text(tree, 'grub/grub.cfg', '10.77.0.11');
  assert.match(boot!, /source "\$prefix\/grub\.cfg-01-\$diskless_a-/);
  const own = await text(tree, 'grub/grub.cfg-01-52-54-00-00-00-01', '10.77.0.11');
  assert.match(own!, /linux '\(tftp,10\.77\.0\.1\)\/profiles\/sb\/kernel' 'console=ttyS0' 'rd\.diskless\.token=tok_1' 'diskless\.secrets=https:\/\/10\.77\.0\.1:443' 'BOOTIF=01-52-54-00-00-00-01'; then/);
  assert.match(own!, /initrd '\(tftp,10\.77\.0\.1\)\/profiles\/sb\/initrd-0'; then/);
  assert.deepEqual(tokens, ['52:54:00:00:00:01']);
  // Upper-case hex as GRUB writes it; the same node by its fixed address.
  const byAddress = await text(tree, 'grub/grub.cfg-0A4D000B', '10.77.0.11');
  assert.match(byAddress!, /BOOTIF=01-52-54-00-00-00-01/);
  assert.equal(await text(tree, 'grub/grub.cfg-0A4D00FE'), undefined, 'an address no node has: GRUB goes on');
  assert.equal(await text(tree, 'grub/grub.cfg-0A4D'), undefined);
  assert.equal(await text(tree, 'grub/grub.cfg-whatever'), undefined);
  // Another machine fetching it gets no token.
  assert.doesNotMatch((await text(tree, 'grub/grub.cfg-01-52-54-00-00-00-01', '10.77.0.99'))!, /token/);
});

test('GRUB reaches only port 69 (TFTP) or 80 (HTTP): kernels come over HTTP when TFTP is elsewhere, and neither is a problem config', async (t) => {
  const http = await fixture(t, { tftpPort: 6969 });
  assert.match((await text(http.tree, 'grub/grub.cfg-01-52-54-00-00-00-01'))!, /linux '\(http,10\.77\.0\.1\)\/profiles\/sb\/kernel'/);
  const neither = await fixture(t, { httpPort: 8080, tftpPort: 6969 });
  const problem = (await text(neither.tree, 'grub/grub.cfg-01-52-54-00-00-00-01'))!;
  assert.match(problem, /cannot boot yet: GRUB fetches files only from HTTP port 80 or TFTP port 69, and server\.http_port is 8080, server\.tftp_port 6969/);
  assert.doesNotMatch(problem, /linux/);
});

test('a GRUB that fetched its config over HTTP (under the firmware\'s HTTP boot) loads the kernel over HTTP too; over TFTP, by TFTP', async (t) => {
  const { tree } = await fixture(t);
  const overHttp = await tree.resolve('grub/grub.cfg-01-52-54-00-00-00-01', '10.77.0.11', 'http');
  const viaHttp = (await overHttp!.read(0, overHttp!.size)).toString();
  assert.match(viaHttp, /linux '\(http,10\.77\.0\.1\)\/profiles\/sb\/kernel' 'console=ttyS0' 'rd\.diskless\.token=tok_1'/);
  assert.match(viaHttp, /initrd '\(http,10\.77\.0\.1\)\/profiles\/sb\/initrd-0'; then/);
  const overTftp = await tree.open('grub/grub.cfg-01-52-54-00-00-00-01', '10.77.0.11');
  assert.ok(!('ok' in overTftp));
  try {
    assert.match((await overTftp.read(0, overTftp.size)).toString(), /linux '\(tftp,10\.77\.0\.1\)\/profiles\/sb\/kernel'/);
  } finally {
    await overTftp.close();
  }
  // HTTP not on port 80: GRUB can name no other, so TFTP it stays.
  const elsewhere = await fixture(t, { httpPort: 8080 });
  const f = await elsewhere.tree.resolve('grub/grub.cfg-01-52-54-00-00-00-01', '10.77.0.11', 'http');
  assert.match((await f!.read(0, f!.size)).toString(), /linux '\(tftp,10\.77\.0\.1\)/);
});

test('machines outside the inventory: denied, registered or booted with default_profile', async (t) => {
  const denied = await fixture(t);
  assert.deepEqual(grubShape((await text(denied.tree, 'grub/grub.cfg-01-52-54-00-00-00-99'))!), ['echo', 'echo', 'sleep', 'exit']);
  const registered = await fixture(t, { unknown: 'register' });
  assert.match((await text(registered.tree, 'grub/grub.cfg-01-52-54-00-00-00-99'))!, /waiting for: diskless node adopt 52:54:00:00:00:99/);
  const allowed = await fixture(t, { unknown: 'allow' });
  const config = (await text(allowed.tree, 'grub/grub.cfg-01-52-54-00-00-00-99'))!;
  assert.match(config, /linux '\(tftp,10\.77\.0\.1\)\/profiles\/sb\/kernel' 'console=ttyS0' 'BOOTIF=01-52-54-00-00-00-99'/);
});

test('Secure Boot: a stored image whose kernel is not signed gets a problem config saying so, a signed one boots', async (t) => {
  const { dir, tree, store } = await fixture(t);
  let n = 0;
  const add = async (kernel: Buffer) => {
    const src = join(dir, `src-${++n}`);
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'f'), src);
    execFileSync('mksquashfs', [src, `${src}.sqfs`, '-comp', 'gzip', '-noappend', '-quiet', '-no-progress']);
    await writeFile(`${src}.k`, kernel);
    await writeFile(`${src}.i`, 'initrd');
    const v = await store.addVersion('debarm', { squashfs: `${src}.sqfs`, kernel: `${src}.k`, initrd: `${src}.i`, kernelVersion: '6.1.0-test' });
    await store.publish('debarm', v.version);
    return v.version;
  };
  await add(peImage({ machine: 0xaa64 }));
  const refused = (await text(tree, 'grub/grub.cfg-01-52-54-00-00-00-02'))!;
  assert.match(refused, /cannot boot yet: profile arm asks for Secure Boot but its kernel \S+ is not signed: its PE certificate table is empty: it is not signed/);
  assert.doesNotMatch(refused, /linux /);
  const signed = await add(peImage({ machine: 0xaa64, certificate: {} }));
  assert.match((await text(tree, 'grub/grub.cfg-01-52-54-00-00-00-02'))!, new RegExp(`linux '\\(tftp,10\\.77\\.0\\.1\\)/store/debarm/${signed}/vmlinuz'`));
});
