import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.js';
import { peImage } from '../config/testdata/pe-image.js';
import { archChecks, formatResult } from './doctor.js';

function dirWithKernels(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-doctor-arch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'vmlinuz-arm64'), peImage({ certificate: {}, machine: 0xaa64 }));
  writeFileSync(join(dir, 'vmlinuz-amd64'), peImage({ certificate: {} }));
  for (const f of ['shimx64.efi', 'grubx64.efi', 'shimaa64.efi']) writeFileSync(join(dir, f), 'x');
  return dir;
}

const config = (dir: string) => parseConfig(`server:
  address: 10.77.0.1
  state_dir: ${dir}/state
  signed_boot:
    x64: { shim: shimx64.efi, grub: grubx64.efi }
    arm64: { shim: shimaa64.efi, grub: grubaa64.efi }
dhcp: { mode: proxy }
profiles:
  x86: { kernel: vmlinuz-amd64, secure_boot: true }
  arm: { kernel: vmlinuz-arm64, loader: grub }
  plain: { kernel: vmlinuz-amd64 }
`, join(dir, 'd.yaml'));

test("doctor names each profile kernel's architecture and fails an architecture whose signed chain is missing", async (t) => {
  const dir = dirWithKernels(t);
  const lines = (await archChecks(config(dir))).map(formatResult);
  assert.deepEqual(lines, [
    `FAIL  arch       profile arm (arm64): its UEFI machines get shim → GRUB, but ${join(dir, 'grubaa64.efi')} does not exist (apt-get download shim-signed:arm64 grub-efi-arm64-signed:arm64 and unpack them where server.signed_boot.arm64 says (dpkg --add-architecture arm64 first), or set it)`,
    `OK    arch       profile x86 (x86-64, loader grub or secure_boot): the x64 signed chain is there (${join(dir, 'shimx64.efi')}, ${join(dir, 'grubx64.efi')})`,
    'OK    arch       profile kernels: x86 x86-64, arm arm64, plain x86-64; DHCP refuses machines of another architecture',
  ]);
  writeFileSync(join(dir, 'grubaa64.efi'), 'x');
  assert.deepEqual((await archChecks(config(dir))).map((r) => r.status), ['OK', 'OK', 'OK']);
});
