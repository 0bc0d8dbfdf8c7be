import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SIGNED_BOOT, parseConfig } from './load.js';
import { ConfigError } from './yaml-fields.js';
import { peImage } from './testdata/pe-image.js';

function withKernels(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-sb-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'signed'), peImage({ certificate: {} }));
  writeFileSync(join(dir, 'unsigned'), peImage());
  return dir;
}

const config = (dir: string, profile: string, server = '') => `server:
  address: 10.77.0.1
  state_dir: ${dir}/state${server}
dhcp: { mode: proxy }
profiles:
${profile}`;

test('loader grub and secure_boot per profile, inherited; node loader grub; Debian signed chain by default', (t) => {
  const dir = withKernels(t);
  const c = parseConfig(config(dir, `  sb: { kernel: signed, secure_boot: true }
  child: { inherits: sb, cmdline: quiet }
  plain: { kernel: unsigned, loader: grub }
nodes:
  - { mac: "52:54:00:00:00:01", profile: plain, loader: grub }
`), join(dir, 'd.yaml'));
  assert.equal(c.profiles.get('sb')?.secureBoot, true);
  assert.equal(c.profiles.get('child')?.secureBoot, true);
  assert.equal(c.profiles.get('plain')?.secureBoot, false);
  assert.equal(c.profiles.get('plain')?.loader, 'grub');
  assert.equal(c.nodes[0]?.loader, 'grub');
  assert.deepEqual(c.server.signedBoot, DEFAULT_SIGNED_BOOT);
});

test("a site's own shim and GRUB, relative to the config", (t) => {
  const dir = withKernels(t);
  const c = parseConfig(config(dir, '  p: { kernel: signed }\n', '\n  signed_boot:\n    x64: { shim: site/shimx64.efi, grub: site/grubx64.efi }\n    arm64: { grub: /srv/arm/grubaa64.efi }'), join(dir, 'd.yaml'));
  assert.deepEqual(c.server.signedBoot, {
    x64: { shim: join(dir, 'site/shimx64.efi'), grub: join(dir, 'site/grubx64.efi') },
    arm64: { shim: DEFAULT_SIGNED_BOOT.arm64.shim, grub: '/srv/arm/grubaa64.efi' },
  });
  assert.throws(() => parseConfig(config(dir, '  p: { kernel: signed }\n', '\n  signed_boot:\n    x86: { shim: a }'), join(dir, 'd.yaml')), /:5: server\.signed_boot\.x86: unknown setting/);
});

function errorOf(text: string, file: string): ConfigError {
  try {
    parseConfig(text, file);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail('expected a ConfigError');
}

test('secure_boot with an unsigned kernel is a config error that says why, at the kernel (or the inherited setting)', (t) => {
  const dir = withKernels(t);
  const file = join(dir, 'd.yaml');
  const own = errorOf(config(dir, '  sb:\n    kernel: unsigned\n    secure_boot: true\n'), file);
  assert.match(own.message, new RegExp(`d\\.yaml:7: profiles\\.sb\\.kernel: ${join(dir, 'unsigned').replace(/[/.]/g, '\\$&')} cannot boot with Secure Boot: its PE certificate table is empty: it is not signed\\. Use a signed kernel`));
  const inherited = errorOf(config(dir, '  base: { kernel: unsigned }\n  sb:\n    inherits: base\n    secure_boot: true\n'), file);
  assert.match(inherited.message, /d\.yaml:9: profiles\.sb\.secure_boot: \S+unsigned cannot boot with Secure Boot/);
  const missing = errorOf(config(dir, '  sb: { kernel: nowhere, secure_boot: true }\n'), file);
  assert.match(missing.message, /profiles\.sb\.kernel: \S+nowhere cannot boot with Secure Boot: it cannot be read \(ENOENT\)/);
  assert.match(errorOf(config(dir, '  sb: { kernel: signed, secure_boot: maybe }\n'), file).message, /profiles\.sb\.secure_boot: must be true or false/);
  assert.match(errorOf(config(dir, '  sb: { kernel: signed, loader: shim }\n'), file).message, /profiles\.sb\.loader: must be one of ipxe, pxelinux, grub \(got "shim"\)/);
  // A profile on a stored image is checked when a node is given the published version.
  assert.doesNotThrow(() => parseConfig(config(dir, '  sb: { image: deb, secure_boot: true }\n'), file));
});
