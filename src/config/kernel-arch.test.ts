import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelArch, kernelFileArch } from './kernel-arch.js';
import { peImage } from './testdata/pe-image.js';
import { hostKernel } from '../lab/lab-host.js';

/** An x86 boot sector with the boot protocol header: "HdrS" at 0x202, version, xloadflags. */
function bzImage(version: number, xloadflags: number): Buffer {
  const b = Buffer.alloc(4096);
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(version, 0x206);
  b.writeUInt16LE(xloadflags, 0x236);
  return b;
}

/** An arm64 Image without an EFI stub: the magic "ARM\x64" at 0x38. */
function arm64Image(): Buffer {
  const b = Buffer.alloc(4096);
  b.writeUInt32LE(0x644d5241, 0x38);
  return b;
}

test('PE images name their machine: x86-64, arm64, 32-bit x86; another machine is named', () => {
  assert.deepEqual(kernelArch(peImage({ machine: 0x8664 })), { ok: true, arch: 'amd64' });
  assert.deepEqual(kernelArch(peImage({ machine: 0xaa64 })), { ok: true, arch: 'arm64' });
  assert.deepEqual(kernelArch(peImage({ machine: 0x14c })), { ok: true, arch: 'i386' });
  assert.deepEqual(kernelArch(peImage({ machine: 0x5064 })), { ok: false, why: 'it is a PE image for machine 0x5064, neither x86 nor arm64' });
});

test('kernels without an EFI stub: x86 bzImage (64-bit by xloadflags) and arm64 Image by their magic', () => {
  assert.deepEqual(kernelArch(bzImage(0x020f, 1)), { ok: true, arch: 'amd64' });
  assert.deepEqual(kernelArch(bzImage(0x020f, 0)), { ok: true, arch: 'i386' });
  // Before protocol 2.12 the field is not there, whatever its bytes hold.
  assert.deepEqual(kernelArch(bzImage(0x020a, 1)), { ok: true, arch: 'i386' });
  assert.deepEqual(kernelArch(arm64Image()), { ok: true, arch: 'arm64' });
  assert.match((kernelArch(Buffer.alloc(4096)) as { why: string }).why, /neither a PE \(EFI\) image, an x86 bzImage nor an arm64 Image/);
  assert.match((kernelArch(Buffer.from([0x1f, 0x8b, 1, 2, 3])) as { why: string }).why, /gzip-compressed and does not unpack/);
});

test("a gzip-compressed kernel (Debian's arm64 vmlinuz) is read from the start of what its first 64 KiB unpack to", () => {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-arch-'));
  try {
    // Incompressible sections after the header: the gzip stream is far longer than what is read.
    const file = join(dir, 'vmlinuz');
    writeFileSync(file, gzipSync(Buffer.concat([peImage({ machine: 0xaa64 }), randomBytes(1 << 20)])));
    assert.ok(statSync(file).size > 512 * 1024);
    assert.deepEqual(kernelFileArch(file), { ok: true, arch: 'arm64' });
    assert.deepEqual(kernelArch(gzipSync(arm64Image())), { ok: true, arch: 'arm64' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the host's Debian kernel is x86-64; a file that cannot be read says why", () => {
  assert.deepEqual(kernelFileArch(hostKernel()), { ok: true, arch: 'amd64' });
  assert.match((kernelFileArch('/nonexistent/vmlinuz') as { why: string }).why, /cannot be read \(ENOENT\)/);
});
