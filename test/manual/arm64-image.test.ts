// `diskless image build --from mmdebstrap:bookworm --arch arm64` on this x86 host: Debian's arm64
// packages installed through qemu-user (binfmt_misc), the image's own arm64 kernel stored, and
// our network initrd built from that kernel's modules with arm64 busybox, tools and NBD helper.
// Not in the suite: the package scripts under qemu-user make it many minutes (measured in the
// test's diagnostic). Run by hand (root, scripts/install-deps.sh done):
//   node --test dist/test/manual/arm64-image.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageCommand } from '../../src/cli/image.js';
import { kernelSignature } from '../../src/config/kernel-signature.js';
import { parseElf64 } from '../../src/initramfs/elf/elf64.js';
import { run } from '../../src/process/run.js';

const MINUTES = 60_000;
const EM_AARCH64 = 183;

async function find(dir: string, name: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile() && e.name === name) out.push(join(e.parentPath, e.name));
  return out;
}

test('image build --arch arm64: an arm64 Debian with its own kernel and an arm64 network initrd', { timeout: 60 * MINUTES }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'diskless-arm64-image-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  await mkdir(join(work, 'state'));
  const config = join(work, 'diskless.yaml');
  await writeFile(config, `server:\n  address: 10.77.0.1\n  state_dir: ${join(work, 'state')}\n`);
  let out = '';
  let err = '';
  const started = Date.now();
  const code = await imageCommand(
    ['build', 'arm', '--from', 'mmdebstrap:bookworm', '--arch', 'arm64', '--include', 'systemd-sysv,udev,iproute2,kmod,linux-image-arm64', '--config', config],
    { stdout: (s) => (out += s), stderr: (s) => (err += s) },
  );
  t.diagnostic(`image build --arch arm64 took ${Math.round((Date.now() - started) / 1000)} s`);
  assert.equal(code, 0, err.slice(-4000));
  assert.match(out, /^built arm@[0-9a-f]{16} \(kernel [^ ]+-arm64, /);

  // The stored kernel is the image's own: Debian's signed arm64 Image.
  const [kernel] = await find(join(work, 'state/images'), 'vmlinuz');
  assert.ok(kernel, 'a stored kernel');
  assert.deepEqual(kernelSignature(await readFile(kernel)), { signed: true, machine: 'arm64' });

  // The initrd: every program in it is for aarch64, and its modules are the arm64 kernel's.
  const [initrd] = await find(join(work, 'state/images'), 'initrd.img');
  assert.ok(initrd, 'a stored initrd');
  const x = join(work, 'x');
  await mkdir(x);
  await run(['sh', '-c', `zstd -dc "$1" | cpio -id --quiet`, 'sh', initrd], { cwd: x });
  for (const p of ['bin/busybox', 'usr/sbin/nbd-client', 'usr/sbin/diskless-nbd-keeper', 'usr/bin/openssl', 'sbin/blkid']) {
    const elf = parseElf64(await readFile(join(x, p)));
    assert.ok(elf.ok, p);
    assert.equal(elf.elf.machine, EM_AARCH64, `${p} is for aarch64`);
  }
  const versions = await readdir(join(x, 'usr/lib/modules'));
  assert.equal(versions.length, 1);
  assert.match(versions[0]!, /-arm64$/);
  assert.ok((await find(join(x, 'usr/lib/modules'), 'virtio_net.ko')).length === 1, 'the NIC driver from the image');
});
