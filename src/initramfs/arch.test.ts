import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostArch, imageArch } from './arch.js';
import { hostPackagesOf, mergeUsr } from './arch-packages.js';
import { buildInitramfs } from './build.js';
import { parseElf64 } from './elf/elf64.js';
import { listKernelVersions } from './kernel-version.js';
import { buildNbdKeeper } from './nbd-keeper.js';

const hostVersion = (await listKernelVersions('/'))[0];
const noKernel = hostVersion === undefined ? 'needs a kernel under /lib/modules (linux-image-amd64)' : false;

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'initramfs-arch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** An ELF64 header alone (no program headers: a static executable) for e_machine `machine`. */
function elfHeader(machine: number): Uint8Array {
  const b = Buffer.alloc(64);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(machine, 18);
  b.writeUInt32LE(1, 20);
  b.writeUInt16LE(64, 52);
  b.writeUInt16LE(56, 54);
  return b;
}

test('the architecture is the kernel modules\' (this host\'s kernel: the host\'s)', { skip: noKernel }, async () => {
  assert.equal(await imageArch('/', hostVersion), hostArch());
});

test('the NBD helper cross-built for arm64 is a static aarch64 program, cached apart from the host\'s', async (t) => {
  const dir = await scratch(t);
  const arm = await buildNbdKeeper(dir, 'arm64');
  const elf = parseElf64(await readFile(arm));
  assert.ok(elf.ok);
  assert.equal(elf.elf.machine, 183);
  assert.equal(elf.elf.dynamic, false);
  const host = await buildNbdKeeper(dir);
  assert.notEqual(host, arm);
  const hostElf = parseElf64(await readFile(host));
  assert.ok(hostElf.ok);
  assert.equal(hostElf.elf.machine, 62);
});

test('a busybox for another machine than the kernel\'s modules is refused before anything is written', { skip: noKernel }, async (t) => {
  const dir = await scratch(t);
  await writeFile(join(dir, 'busybox'), elfHeader(183));
  await assert.rejects(
    buildInitramfs({ output: join(dir, 'initrd.img'), busybox: join(dir, 'busybox'), drivers: ['e1000'] }),
    /Cannot use .*busybox as busybox: it is for arm64, the kernel's modules for amd64/,
  );
  await assert.rejects(lstat(join(dir, 'initrd.img')));
});

test('unpacked packages are merged into /usr as an image has them: /lib, /bin and /sbin link there, both halves of a directory kept', async (t) => {
  const root = await scratch(t);
  await mkdir(join(root, 'lib/aarch64-linux-gnu'), { recursive: true });
  await mkdir(join(root, 'usr/lib/aarch64-linux-gnu'), { recursive: true });
  await mkdir(join(root, 'sbin'), { recursive: true });
  await writeFile(join(root, 'lib/aarch64-linux-gnu/libc.so.6'), 'libc');
  await writeFile(join(root, 'usr/lib/aarch64-linux-gnu/libssl.so.3'), 'libssl');
  await writeFile(join(root, 'sbin/nbd-client'), 'nbd-client');
  await mergeUsr(root);
  for (const d of ['bin', 'sbin', 'lib']) assert.equal(await readlink(join(root, d)), `usr/${d}`);
  assert.equal(await readFile(join(root, 'lib/aarch64-linux-gnu/libc.so.6'), 'utf8'), 'libc');
  assert.equal(await readFile(join(root, 'lib/aarch64-linux-gnu/libssl.so.3'), 'utf8'), 'libssl');
  assert.equal(await readFile(join(root, 'usr/sbin/nbd-client'), 'utf8'), 'nbd-client');
});

test('merging refuses a file both in /lib and /usr/lib rather than dropping one', async (t) => {
  const root = await scratch(t);
  await mkdir(join(root, 'lib'), { recursive: true });
  await mkdir(join(root, 'usr/lib'), { recursive: true });
  await writeFile(join(root, 'lib/x'), 'a');
  await writeFile(join(root, 'usr/lib/x'), 'b');
  await assert.rejects(mergeUsr(root), /Cannot merge \/usr: both .*lib\/x and .*usr\/lib\/x exist/);
});

test('the host packages holding the initrd\'s tools, found by their merged-/usr twins too', async () => {
  // nbd-client's package lists /sbin/nbd-client; the initrd names /usr/sbin/nbd-client.
  const pkgs = await hostPackagesOf(['/usr/sbin/nbd-client', '/bin/busybox', '/usr/bin/openssl']);
  assert.deepEqual(pkgs, ['busybox-static', 'nbd-client', 'openssl']);
  await assert.rejects(hostPackagesOf(['/usr/sbin/no-such-tool']), /Cannot tell which Debian package holds \/usr\/sbin\/no-such-tool/);
});
