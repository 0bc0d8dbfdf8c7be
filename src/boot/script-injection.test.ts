// Values from the config land in iPXE scripts and pxelinux configs. Whatever they hold, a script
// must run the commands Diskless wrote and no other: checked with a model of iPXE's own parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.js';
import type { DisklessConfig, ProfileConfig } from '../config/types.js';
import type { BootTarget } from './boot-target.js';
import { BootTree } from './boot-tree.js';
import { renderIpxeScript, renderProblemScript } from './ipxe-script.js';
import { renderPxelinuxConfig } from './pxelinux-config.js';
import { CHAIN_PAYLOAD, HOSTILE_CMDLINES } from '../config/testdata/hostile-cmdlines.js';
import { ipxeLines, ipxeShape } from './testdata/ipxe-model.js';

const BASE = 'http://10.77.0.1:8080';
const MAC = '52:54:00:00:00:01';

const profile: ProfileConfig = { name: 'default', kernel: '/boot/vmlinuz', initrds: ['/boot/initrd'], cmdline: 'console=ttyS0', loader: 'ipxe', secureBoot: false, files: [] };
const benign: BootTarget = {
  mac: MAC,
  node: { mac: MAC, profile: 'default', hostname: 'n1' },
  profile,
  cmdline: 'console=ttyS0 quiet rd.diskless.token=abc_DEF-1',
  loader: 'ipxe',
  kernel: 'profiles/default/kernel',
  initrds: ['profiles/default/initrd-0'],
};

/** Free text that would be a second command, a comment or an expansion if it were not inert. */
const HOSTILE_TEXT = [...HOSTILE_CMDLINES.map(([, v]) => v), `n1\nchain ${BASE}/x.ipxe`, 'n1 \\', '${net0/mac}', 'n1 || chain x', ':failed'];

/** Every $ a script holds is one of the expansions Diskless writes on purpose. */
function strayDollars(script: string): string[] {
  return ipxeLines(script).flatMap((l) => l.commands.flatMap((c) => c.argv.filter((w) => w.replaceAll('${base}', '').replaceAll('${filename}', '').includes('$'))));
}

function commandNames(script: string): string[] {
  return ipxeLines(script).flatMap((l) => l.commands.map((c) => c.argv[0] ?? ''));
}

test('the reviewed payload and its variants on the kernel line are refused, naming the character', () => {
  for (const [name, cmdline, names] of HOSTILE_CMDLINES) {
    assert.throws(() => renderIpxeScript({ ...benign, cmdline }, BASE), (e: Error) => e.message.startsWith('Cannot write the boot script: the kernel command line') && e.message.includes(names), name);
    assert.throws(() => renderPxelinuxConfig({ ...benign, cmdline, loader: 'pxelinux' }), (e: Error) => e.message.startsWith('Cannot write the pxelinux config: the kernel command line') && e.message.includes(names), name);
  }
});

test('unsafe paths and base URLs are refused: they are words on the kernel and initrd lines', () => {
  for (const kernel of ['profiles/a ; chain http://e/x.ipxe ; #/kernel', 'profiles/a\nchain/kernel', 'profiles/${x}/kernel', '']) {
    assert.throws(() => renderIpxeScript({ ...benign, kernel }, BASE), /Cannot write the boot script: the kernel path/, JSON.stringify(kernel));
    assert.throws(() => renderPxelinuxConfig({ ...benign, kernel }), /Cannot write the pxelinux config: the kernel path/, JSON.stringify(kernel));
  }
  assert.throws(() => renderIpxeScript({ ...benign, initrds: ['a || chain x'] }, BASE), /the initrd path may not contain a space/);
  assert.throws(() => renderPxelinuxConfig({ ...benign, initrds: ['profiles/a,/etc/x'] }), /the initrd path may not contain "," \(character 11\): pxelinux's INITRD separates files with it/);
  assert.throws(() => renderIpxeScript(benign, `${BASE}\nchain http://e/x.ipxe`), /the base URL/);
});

test('a kernel command line longer than the kernel takes is refused, not cut (the token and BOOTIF come last)', () => {
  const long = `console=ttyS0 ${'x'.repeat(2000)}`;
  assert.throws(() => renderIpxeScript({ ...benign, cmdline: long }, BASE), /the kernel command line is \d+ characters long; at most \d+ fit \(the kernel takes 2048 bytes in all/);
  assert.throws(() => renderPxelinuxConfig({ ...benign, cmdline: long }), /the kernel command line is \d+ characters long; at most \d+ fit/);
});

test('host names, profile names and problem messages never add a command, a comment or an expansion', () => {
  const benignScript = renderIpxeScript(benign, BASE);
  const shape = ipxeShape(benignScript);
  assert.deepEqual(shape, ['', '', '', 'set', ':retry', 'echo', 'kernel || goto', 'initrd || goto', 'boot || goto', ':failed', 'echo', 'sleep', 'goto']);
  const problemShape = ipxeShape(renderProblemScript(MAC, 'no published version'));
  assert.deepEqual(problemShape, ['', 'echo', 'echo', 'sleep', 'chain || exit']);
  for (const text of HOSTILE_TEXT) {
    const named = renderIpxeScript({ ...benign, node: { ...benign.node!, hostname: text }, profile: { ...profile, name: text } }, BASE);
    assert.deepEqual(ipxeShape(named), shape, JSON.stringify(text));
    assert.deepEqual(strayDollars(named), [], JSON.stringify(text));
    // The kernel line is the one Diskless wrote, with the token and BOOTIF still on it.
    const kernel = ipxeLines(named).find((l) => l.commands[0]?.argv[0] === 'kernel')!;
    assert.deepEqual(kernel.commands[0]!.argv.slice(-2), ['rd.diskless.token=abc_DEF-1', 'BOOTIF=01-52-54-00-00-00-01']);

    const problem = renderProblemScript(MAC, text);
    assert.deepEqual(ipxeShape(problem), problemShape, JSON.stringify(text));
    assert.deepEqual(strayDollars(problem), [], JSON.stringify(text));

    const pxe = renderPxelinuxConfig({ ...benign, node: { ...benign.node!, hostname: text }, profile: { ...profile, name: text } }).split('\n');
    assert.deepEqual(pxe.map((l) => l.trim().split(' ')[0]), ['#', '#', 'DEFAULT', 'PROMPT', 'TIMEOUT', 'LABEL', 'KERNEL', 'INITRD', 'APPEND', 'IPAPPEND', ''], JSON.stringify(text));
  }
});

/** A config as a file could never be written any more: the cmdline got past load somehow. */
function configWithCmdline(cmdline: string, loader: 'ipxe' | 'pxelinux'): DisklessConfig {
  const cfg = parseConfig(`server: { address: 10.77.0.1, http_port: 8080 }
dhcp: { mode: proxy, unknown_clients: deny }
profiles:
  default: { kernel: /boot/vmlinuz, cmdline: console=ttyS0, loader: ${loader} }
nodes:
  - { mac: "${MAC}", hostname: n1 }
`, '/x/diskless.yaml');
  const p = cfg.profiles.get('default')!;
  return { ...cfg, profiles: new Map([['default', { ...p, cmdline }]]) };
}

test('a served script never carries a second command line, even from a config that skipped validation', async () => {
  for (const [name, cmdline] of HOSTILE_CMDLINES) {
    const tokens: string[] = [];
    const tree = new BootTree(() => configWithCmdline(cmdline, 'ipxe'), BASE, undefined, { tokenFor: async (mac) => (tokens.push(mac), 'tok') });
    const f = await tree.resolve('boot/52-54-00-00-00-01.ipxe', '10.77.0.11');
    assert.ok(f, name);
    const script = (await f.read(0, f.size)).toString();
    assert.deepEqual(ipxeShape(script), ['', 'echo', 'echo', 'sleep', 'chain || exit'], `${name}: the problem script, nothing else\n${script}`);
    assert.deepEqual(strayDollars(script), [], name);
    assert.ok(!commandNames(script).includes('kernel'), name);
    assert.match(script, /cannot boot yet: Cannot boot 52:54:00:00:00:01: the profile and node cmdline /, name);
    assert.deepEqual(tokens, [], `${name}: no token spent on a script that is not sent`);

    const pxeTree = new BootTree(() => configWithCmdline(cmdline, 'pxelinux'), BASE);
    assert.equal(await pxeTree.resolve('pxelinux.cfg/01-52-54-00-00-00-01', '10.77.0.11'), undefined, `${name}: pxelinux moves on to its next config name`);
  }
  // The reviewed payload in the old renderer ran `chain http://elsewhere/x.ipxe`; now no line
  // of any script names it as a command.
  const tree = new BootTree(() => configWithCmdline(CHAIN_PAYLOAD, 'ipxe'), BASE);
  const f = (await tree.resolve('boot/52-54-00-00-00-01.ipxe'))!;
  assert.ok(!ipxeLines((await f.read(0, f.size)).toString()).some((l) => l.commands.some((c) => c.argv.some((w) => w.includes('elsewhere')) && c.argv[0] !== 'echo')));
});
