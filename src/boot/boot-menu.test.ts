// Boot menus (profile or node `menu:`) and unattended failures (`on_failure:`): what the config
// accepts, what the iPXE script and the pxelinux config say, and that free text in a menu stays
// text to the loaders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.js';
import { ConfigError } from '../config/yaml-fields.js';
import { ImageStore } from '../images/store/image-store.js';
import { BootTree } from './boot-tree.js';
import { ipxeLines } from './testdata/ipxe-model.js';

const MAC = '52:54:00:00:00:01';
const SCRIPT = 'boot/52-54-00-00-00-01.ipxe';

async function text(tree: BootTree, path: string, peer?: string): Promise<string | undefined> {
  const f = await tree.resolve(path, peer);
  return f ? (await f.read(0, f.size)).toString() : undefined;
}

function yaml(dir: string, profiles: string, node = '') {
  return `server: { address: 10.0.0.1, state_dir: ${dir}, syslinux_dirs: [${dir}] }
dhcp: { mode: full, pool: 10.0.0.100-10.0.0.110 }
profiles:
${profiles}
nodes:
  - { mac: "${MAC}", hostname: n1, profile: main${node} }
`;
}

async function fixture(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'dl-menu-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'vmlinuz'), 'K');
  await writeFile(join(dir, 'initrd'), 'I');
  return dir;
}

/** Every command a script runs, by name, in order. */
const commands = (script: string) => ipxeLines(script).flatMap((l) => l.commands.map((c) => c.argv[0] ?? ''));

test('a menu: iPXE shows the entries with their keys for the timeout, then boots the default; each entry has its own kernel line, the rescue one stops in the initramfs shell and carries no token', async (t) => {
  const dir = await fixture(t);
  const cfg = parseConfig(yaml(dir, `  main:
    kernel: vmlinuz
    initrd: initrd
    cmdline: console=ttyS0
    on_failure: reboot
    failure_delay: 20
    menu:
      timeout: 5
      default: alt
      entries:
        - { name: main, profile: main }
        - { name: alt, profile: other, label: "Other kernel (testing)" }
        - { name: rescue, rescue: true, key: r }
  other: { kernel: vmlinuz, cmdline: quiet }`), join(dir, 'd.yaml'));
  const tokens: string[] = [];
  const tree = new BootTree(() => cfg, 'http://10.0.0.1', undefined, { tokenFor: async () => { tokens.push('t'); return `TOKEN${tokens.length}`; }, secretsUrl: 'https://10.0.0.1:443' });
  const script = (await text(tree, SCRIPT, '10.0.0.11'))!;
  assert.equal(tokens.length, 1, 'one token for the whole script');
  assert.match(script, /^menu Diskless boot menu: n1 \(52:54:00:00:00:01\)$/m);
  assert.match(script, /^item --key 1 main \[1\] Profile main$/m);
  assert.match(script, /^item --key 2 alt \[2\] Other kernel \(testing\)$/m);
  assert.match(script, /^item --key r rescue \[r\] Rescue: a shell in the initramfs$/m);
  assert.match(script, /^choose --timeout 5000 --default alt selected \|\| goto boot-alt$/m);
  assert.match(script, /^goto boot-\$\{selected\}$/m);
  const kernel = (name: string) => new RegExp(`^:boot-${name}\\n.*\\nkernel (.*) \\|\\| goto failed-${name}$`, 'm').exec(script)?.[1] ?? '';
  assert.match(kernel('main'), /^\$\{base\}\/profiles\/main\/kernel initrd=initrd-0 rd\.shell=0 rd\.emergency=reboot rd\.diskless\.failure_delay=20 console=ttyS0 rd\.diskless\.token=TOKEN1 diskless\.secrets=https:\/\/10\.0\.0\.1:443 BOOTIF=01-52-54-00-00-00-01$/);
  assert.match(kernel('alt'), /^\$\{base\}\/profiles\/other\/kernel quiet rd\.diskless\.token=TOKEN1 /, 'the other profile\'s kernel and command line, the node\'s token');
  assert.match(kernel('rescue'), /^\$\{base\}\/profiles\/main\/kernel initrd=initrd-0 rd\.shell=0 rd\.emergency=reboot rd\.diskless\.failure_delay=20 console=ttyS0 rd\.break=root rd\.shell BOOTIF=/, 'rd.shell after rd.shell=0: the shell wins');
  assert.doesNotMatch(kernel('rescue'), /token/);
  assert.deepEqual(commands(script), ['set', 'menu', 'item', 'item', 'item', 'choose', 'goto', 'goto',
    ...['main', 'alt', 'rescue'].flatMap((n) => ['echo', 'kernel', 'goto', ...(n === 'alt' ? [] : ['initrd', 'goto']), 'boot', 'goto', 'echo', 'sleep', 'goto'])]);

  // pxelinux: menu.c32 with the same entries; "^" marks each key.
  const cfgPx = parseConfig(yaml(dir, `  main:
    kernel: vmlinuz
    initrd: initrd
    loader: pxelinux
    menu:
      timeout: 3
      entries:
        - { name: main, profile: main, label: "Main ^ x" }
        - { name: rescue, rescue: true }`), join(dir, 'd.yaml'));
  const px = (await text(new BootTree(() => cfgPx, 'http://10.0.0.1'), 'pxelinux.cfg/01-52-54-00-00-00-01'))!;
  assert.match(px, /^UI menu\.c32\nMENU TITLE Diskless boot menu: n1 \(52:54:00:00:00:01\)\nDEFAULT main\nTIMEOUT 30\n/m);
  assert.match(px, /^LABEL main\n  KERNEL profiles\/main\/kernel\n  INITRD profiles\/main\/initrd-0\n  IPAPPEND 2\n  MENU LABEL \^1 Main \? x$/m);
  assert.match(px, /^LABEL rescue\n  KERNEL profiles\/main\/kernel\n  INITRD profiles\/main\/initrd-0\n  APPEND rd\.break=root rd\.shell\n  IPAPPEND 2\n  MENU LABEL \^2 Rescue: a shell in the initramfs$/m);

  // No menu: no menu, no wait.
  const plain = parseConfig(yaml(dir, '  main: { kernel: vmlinuz }'), join(dir, 'd.yaml'));
  const s = (await text(new BootTree(() => plain, 'http://10.0.0.1'), SCRIPT))!;
  assert.doesNotMatch(s, /^(menu|item|choose)\b/m);
  assert.doesNotMatch(s, /rd\.shell|rd\.emergency/, 'on_failure: shell (the default) adds nothing');
});

test('a node\'s menu replaces its profile\'s, a child profile inherits its parent\'s; menu entries of an earlier stored version pin it, and a version gone from the store is left out', async (t) => {
  const dir = await fixture(t);
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
  const v1 = await add('one');
  const v2 = await add('two');
  await store.publish('deb', v2.version);
  const cfg = parseConfig(yaml(dir, `  base:
    image: deb
    menu:
      entries: [{ name: now, profile: base }, { name: before, version: "${v1.version}" }, { name: gone, version: "0123456789abcdef" }]
  main: { inherits: base }`, `, menu: { timeout: 2, default: before, entries: [{ name: now, profile: main }, { name: before, version: "${v1.version}" }] }`), join(dir, 'd.yaml'));
  assert.equal(cfg.profiles.get('main')?.menu?.entries.length, 3, 'inherited');
  const pinned: string[] = [];
  const tree = new BootTree(() => cfg, 'http://10.0.0.1', store, { onPinned: (_m, _i, v) => pinned.push(v) });
  const script = (await text(tree, SCRIPT))!;
  assert.match(script, /^choose --timeout 2000 --default before /m, 'the node\'s menu');
  assert.match(script, new RegExp(`^kernel \\$\\{base\\}/store/deb/${v2.version}/vmlinuz .*root=live:http://10\\.0\\.0\\.1/store/deb/${v2.version}/root\\.sqfs`, 'm'));
  assert.match(script, new RegExp(`^kernel \\$\\{base\\}/store/deb/${v1.version}/vmlinuz .*root=live:http://10\\.0\\.0\\.1/store/deb/${v1.version}/root\\.sqfs rd\\.diskless\\.sha256=${v1.files['root.sqfs'].sha256} `, 'm'));
  assert.deepEqual(pinned, [v1.version], 'the default entry is the version the node was given');
  // The profile's own menu (for another node) leaves out the version the store does not have.
  const cfg2 = parseConfig(yaml(dir, cfg.profiles.get('base') ? `  base:
    image: deb
    menu:
      default: gone
      entries: [{ name: now, profile: base }, { name: gone, version: "0123456789abcdef" }]
  main: { inherits: base }` : ''), join(dir, 'd.yaml'));
  const s2 = (await text(new BootTree(() => cfg2, 'http://10.0.0.1', store), SCRIPT))!;
  assert.doesNotMatch(s2, /gone/);
  assert.match(s2, /^choose --timeout 10000 --default now /m, 'the default falls back to the first entry left');
});

test('menu settings are checked when the config is read, naming file, line and key', async (t) => {
  const dir = await fixture(t);
  const bad: Array<[string, RegExp]> = [
    ['menu: { entries: [] }', /menu\.entries: list at least one entry/],
    ['menu: { entries: [{ name: a, profile: main, rescue: true }] }', /give exactly one of profile: NAME, version: VERSION or rescue: true/],
    ['menu: { entries: [{ name: "a b", rescue: true }] }', /menu\.entries\[0\]\.name: "a b" must be 1-32 letters/],
    ['menu: { entries: [{ name: a, rescue: true }, { name: a, profile: main }] }', /a is listed twice/],
    ['menu: { entries: [{ name: a, rescue: true, label: "x ; chain http://e/x" }] }', /label: may not contain ";"/],
    ['menu: { entries: [{ name: a, rescue: true, key: "ab" }] }', /key: "ab" must be one lower-case letter or digit/],
    ['menu: { default: z, entries: [{ name: a, rescue: true }] }', /menu\.default: names no entry \(entries: a\)/],
    ['menu: { timeout: 0, entries: [{ name: a, rescue: true }] }', /menu\.timeout/],
    ['menu: { entries: [{ name: a, profile: nope }] }', /profiles\.main\.menu: entry a names no profile "nope"/],
    ['menu: { entries: [{ name: a, version: "0123456789abcdef" }] }', /entry a boots a stored version, but profile main has no image: NAME/],
    ['menu: { entries: [{ name: a, version: "v1" }] }', /"v1" is not a stored image version/],
    ['on_failure: panic', /on_failure: must be one of shell, reboot, poweroff/],
    ['failure_delay: -1', /failure_delay/],
  ];
  for (const [line, want] of bad) {
    assert.throws(() => parseConfig(yaml(dir, `  main:\n    kernel: vmlinuz\n    ${line}`), join(dir, 'd.yaml')), (e: unknown) => e instanceof ConfigError && want.test(e.message), line);
  }
  assert.throws(() => parseConfig(yaml(dir, '  main: { kernel: vmlinuz }', ', menu: { entries: [{ name: a, profile: gone }] }'), join(dir, 'd.yaml')), /nodes\[52:54:00:00:00:01\]\.menu: entry a names no profile "gone"/);
});

test('menu labels that reach the renderers unchecked stay text: no command, comment or expansion of theirs', async () => {
  const { renderIpxeScript } = await import('./ipxe-script.js');
  const { renderPxelinuxConfig } = await import('./pxelinux-config.js');
  const { HOSTILE_CMDLINES } = await import('../config/testdata/hostile-cmdlines.js');
  const profile = { name: 'main', kernel: '/k', initrds: [], cmdline: '', loader: 'ipxe' as const, secureBoot: false, files: [] };
  const target = { mac: MAC, profile, cmdline: 'quiet', loader: 'ipxe' as const, kernel: 'profiles/main/kernel', initrds: [] };
  for (const label of [...HOSTILE_CMDLINES.map(([, v]) => v), 'a\nchain http://e/x.ipxe', '${net0/mac}', 'x || chain y', 'LABEL evil\n  KERNEL http://e/k']) {
    const menu = { timeoutSec: 3, default: 'a', choices: [{ name: 'a', label, key: '1', target }, { name: 'b', label: 'B', target }] };
    const script = renderIpxeScript(target, 'http://10.0.0.1', menu);
    assert.deepEqual(commands(script).slice(0, 8), ['set', 'menu', 'item', 'item', 'choose', 'goto', 'goto', 'echo'], JSON.stringify(label));
    assert.deepEqual(ipxeLines(script).flatMap((l) => l.commands.flatMap((c) => c.argv.filter((w) => w.includes('$') && w !== '${base}/profiles/main/kernel' && w !== 'boot-${selected}'))), [], JSON.stringify(label));
    const px = renderPxelinuxConfig(target, menu);
    assert.deepEqual(px.split('\n').filter((l) => /^\s*(LABEL|KERNEL|APPEND|INITRD)\b/.test(l)).length, 6, JSON.stringify(label));
  }
  assert.throws(() => renderIpxeScript(target, 'http://10.0.0.1', { timeoutSec: 3, default: 'a;x', choices: [{ name: 'a;x', label: 'A', target }] }), /menu entry name a\?x is not a label/);
});
