import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from './load.js';
import { peImage } from './testdata/pe-image.js';

function withKernels(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-arch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'vmlinuz-arm64'), peImage({ certificate: {}, machine: 0xaa64 }));
  writeFileSync(join(dir, 'vmlinuz-amd64'), peImage({ certificate: {} }));
  return dir;
}

const config = (dir: string, rest: string) => `server:
  address: 10.77.0.1
  state_dir: ${dir}/state
dhcp: { mode: proxy }
profiles:
${rest}`;

test("a profile's kernel architecture is read at load, inherited with the kernel; none for a stored image or an unreadable file", (t) => {
  const dir = withKernels(t);
  const c = parseConfig(config(dir, `  arm: { kernel: vmlinuz-arm64, loader: grub }
  arm-child: { inherits: arm, cmdline: quiet }
  x86: { kernel: vmlinuz-amd64 }
  missing: { kernel: nowhere }
  stored: { image: debian }
`), join(dir, 'd.yaml'));
  assert.equal(c.profiles.get('arm')?.kernelArch, 'arm64');
  assert.equal(c.profiles.get('arm-child')?.kernelArch, 'arm64');
  assert.equal(c.profiles.get('x86')?.kernelArch, 'amd64');
  assert.equal(c.profiles.get('missing')?.kernelArch, undefined);
  assert.equal(c.profiles.get('stored')?.kernelArch, undefined);
});

test('pxelinux (BIOS, x86 only) with an arm64 kernel is a config error at file:line:key, on the profile or the node', (t) => {
  const dir = withKernels(t);
  assert.throws(
    () => parseConfig(config(dir, '  arm: { kernel: vmlinuz-arm64, loader: pxelinux }\n'), join(dir, 'd.yaml')),
    /d\.yaml:6: profiles\.arm\.loader: .*vmlinuz-arm64 is an arm64 kernel, but loader pxelinux boots only x86 BIOS machines\. Use loader: grub/,
  );
  assert.throws(
    () => parseConfig(config(dir, `  arm: { kernel: vmlinuz-arm64 }
nodes:
  - { mac: "52:54:00:00:00:01", profile: arm, loader: pxelinux }
`), join(dir, 'd.yaml')),
    /d\.yaml:8: nodes\[0\]\.loader: pxelinux boots only x86 BIOS machines, and profile arm's kernel .*vmlinuz-arm64 is arm64/,
  );
  // The same loader with an x86 kernel is fine.
  const ok = parseConfig(config(dir, `  x86: { kernel: vmlinuz-amd64, loader: pxelinux }
nodes:
  - { mac: "52:54:00:00:00:01", profile: x86, loader: pxelinux }
`), join(dir, 'd.yaml'));
  assert.equal(ok.profiles.get('x86')?.kernelArch, 'amd64');
});
