import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelFileSignature, kernelSignature } from './kernel-signature.js';
import { peImage } from './testdata/pe-image.js';
import { hostKernel } from '../lab/lab-host.js';

test('a PE image with an Authenticode certificate table is signed, and its machine is read', () => {
  assert.deepEqual(kernelSignature(peImage({ certificate: {} })), { signed: true, machine: 'x86-64' });
  assert.deepEqual(kernelSignature(peImage({ certificate: {}, machine: 0xaa64 })), { signed: true, machine: 'arm64' });
});

test('an empty certificate table, another certificate type or a table outside the file is not a signature', () => {
  const unsigned = kernelSignature(peImage());
  assert.equal(unsigned.signed, false);
  assert.match(unsigned.signed ? '' : unsigned.why, /certificate table is empty: it is not signed/);
  const x509 = kernelSignature(peImage({ certificate: { type: 0x0001 } }));
  assert.match(x509.signed ? '' : x509.why, /no Authenticode signature \(revision 0x200, type 0x1\)/);
  const outside = kernelSignature(peImage({ certificate: {}, certOffset: 1 << 30 }));
  assert.match(outside.signed ? '' : outside.why, /points outside the file/);
});

test('what is not a PE image is named as such', () => {
  const bzImageWithoutStub = Buffer.alloc(4096);
  assert.match((kernelSignature(bzImageWithoutStub) as { why: string }).why, /not a PE \(EFI\) image: no "MZ" header/);
  const mzOnly = Buffer.alloc(4096);
  mzOnly.write('MZ', 0, 'latin1');
  mzOnly.writeUInt32LE(0x80, 0x3c);
  assert.match((kernelSignature(mzOnly) as { why: string }).why, /no "PE" signature/);
  assert.match((kernelSignature(peImage({ magic: 0x107 })) as { why: string }).why, /unknown magic 0x107/);
  assert.match((kernelSignature(Buffer.from([0x1f, 0x8b, 1, 2, 3])) as { why: string }).why, /gzip-compressed and does not unpack/);
});

test("a gzip-compressed image (Debian's arm64 vmlinuz) is unpacked first", () => {
  assert.deepEqual(kernelSignature(gzipSync(peImage({ certificate: {}, machine: 0xaa64 }))), { signed: true, machine: 'arm64' });
  assert.equal(kernelSignature(gzipSync(peImage({ machine: 0xaa64 }))).signed, false);
});

test("the host's Debian kernel is signed; a file that cannot be read says why", () => {
  assert.deepEqual(kernelFileSignature(hostKernel()), { signed: true, machine: 'x86-64' });
  const dir = mkdtempSync(join(tmpdir(), 'diskless-sig-'));
  try {
    assert.match((kernelFileSignature(join(dir, 'missing')) as { why: string }).why, /cannot be read \(ENOENT\)/);
    writeFileSync(join(dir, 'vmlinuz'), peImage());
    assert.equal(kernelFileSignature(join(dir, 'vmlinuz')).signed, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
