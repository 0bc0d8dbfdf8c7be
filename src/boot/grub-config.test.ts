// Values from the config land in GRUB configs. Whatever they hold, a config must run the
// commands Diskless wrote and no other, with every value one literal word: checked with a
// model of GRUB's own lexer (testdata/grub-model.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProfileConfig } from '../config/types.js';
import type { BootTarget } from './boot-target.js';
import { renderGrubBootstrapConfig, renderGrubConfig, renderGrubDiscoveredConfig, renderGrubProblemConfig, renderGrubUnknownConfig } from './grub-config.js';
import { HOSTILE_CMDLINES } from '../config/testdata/hostile-cmdlines.js';
import { grubCommands, grubOperators, grubShape, grubVariables, unquotedPatterns, wordText } from './testdata/grub-model.js';

const MAC = '52:54:00:00:00:01';
const DEVICE = '(http,10.77.0.1)';
const profile: ProfileConfig = { name: 'default', kernel: '/boot/vmlinuz', initrds: ['/boot/initrd'], cmdline: 'console=ttyS0', loader: 'grub', secureBoot: true, files: [] };
const benign: BootTarget = {
  mac: MAC,
  node: { mac: MAC, profile: 'default', hostname: 'n1' },
  profile,
  cmdline: 'root=live:http://10.77.0.1/images/default/root.sqfs console=ttyS0 rd.diskless.token=abc_DEF-1',
  loader: 'grub',
  kernel: 'profiles/default/kernel',
  initrds: ['profiles/default/initrd-0', 'profiles/default/initrd-1'],
};

const GOLDEN = `# Diskless GRUB config for n1 (52:54:00:00:00:01), profile default.
# Generated from the Diskless inventory: edit the config, not this file.
while true; do
  echo 'Diskless: booting n1 (52:54:00:00:00:01) with profile default'
  if linux '(http,10.77.0.1)/profiles/default/kernel' 'root=live:http://10.77.0.1/images/default/root.sqfs' 'console=ttyS0' 'rd.diskless.token=abc_DEF-1' 'BOOTIF=01-52-54-00-00-00-01'; then
    if initrd '(http,10.77.0.1)/profiles/default/initrd-0' '(http,10.77.0.1)/profiles/default/initrd-1'; then
      boot
    fi
  fi
  echo 'Diskless: boot failed, retrying in 10 seconds'
  sleep 10
done
`;

const SHAPE = ['while', 'do', 'echo', 'if', 'then', 'if', 'then', 'boot', 'fi', 'fi', 'echo', 'sleep', 'done'];

/** The words the linux command passes on, as GRUB reads them. */
function linuxArgs(config: string): string[] {
  const linux = grubCommands(config).flatMap((c) => c.words.length > 0 ? [c.words] : []).find((w) => wordText(w[0]!) === 'if' && w[1] && wordText(w[1]) === 'linux');
  assert.ok(linux, 'no linux command');
  for (const w of linux.slice(2)) assert.deepEqual(w.pieces.map((p) => p.kind === 'literal' && p.quoted), [true], `${wordText(w)} is not one quoted literal`);
  return linux.slice(2).map(wordText);
}

test('a machine\'s config: the kernel and initrds from the server, the command line with BOOTIF last, retried every 10 s', () => {
  assert.equal(renderGrubConfig(benign, DEVICE), GOLDEN);
  assert.deepEqual(grubShape(GOLDEN), SHAPE);
  assert.deepEqual(grubOperators(GOLDEN), []);
  assert.deepEqual(linuxArgs(GOLDEN), ['(http,10.77.0.1)/profiles/default/kernel', 'root=live:http://10.77.0.1/images/default/root.sqfs', 'console=ttyS0', 'rd.diskless.token=abc_DEF-1', 'BOOTIF=01-52-54-00-00-00-01']);
  assert.deepEqual(grubVariables(GOLDEN), []);
  const tftp = renderGrubConfig({ ...benign, initrds: [] }, '(tftp,10.77.0.1)');
  assert.match(tftp, /linux '\(tftp,10\.77\.0\.1\)\/profiles\/default\/kernel'/);
  assert.doesNotMatch(tftp, /initrd/, 'no initrd line without initrds');
});

test('the reviewed payload and its variants on the kernel line are refused, naming the character', () => {
  for (const [name, cmdline, names] of HOSTILE_CMDLINES) {
    assert.throws(() => renderGrubConfig({ ...benign, cmdline }, DEVICE), (e: Error) => e.message.startsWith('Cannot write the GRUB config: the kernel command line') && e.message.includes(names), name);
  }
});

test('unsafe paths are refused: they are words on the linux and initrd lines', () => {
  for (const kernel of ["profiles/a' ; reboot ; '/kernel", 'profiles/a\nreboot/kernel', 'profiles/${x}/kernel', 'profiles/a b/kernel', 'profiles/{x}/kernel']) {
    assert.throws(() => renderGrubConfig({ ...benign, kernel }, DEVICE), /Cannot write the GRUB config: the kernel path/, JSON.stringify(kernel));
  }
  assert.throws(() => renderGrubConfig({ ...benign, initrds: ['a;reboot'] }, DEVICE), /the initrd path may not contain ";"/);
});

test('file-name patterns in arguments reach the kernel as written: every word is quoted', () => {
  const config = renderGrubConfig({ ...benign, cmdline: 'isolcpus=1-3 a*b x? [y] ~z' }, DEVICE);
  assert.deepEqual(unquotedPatterns(config), []);
  assert.deepEqual(linuxArgs(config).slice(1, -1), ['isolcpus=1-3', 'a*b', 'x?', '[y]', '~z']);
});

test("a command line longer than the kernel takes is refused, counting GRUB's BOOT_IMAGE= and BOOTIF", () => {
  const room = 2047 - 'BOOT_IMAGE=(http,10.77.0.1)/profiles/default/kernel '.length - ' BOOTIF=01-52-54-00-00-00-01'.length;
  assert.doesNotThrow(() => renderGrubConfig({ ...benign, cmdline: 'x'.repeat(room) }, DEVICE));
  assert.throws(() => renderGrubConfig({ ...benign, cmdline: 'x'.repeat(room + 1) }, DEVICE), /the kernel command line is \d+ characters long; at most \d+ fit/);
});

const HOSTILE_TEXT = [...HOSTILE_CMDLINES.map(([, v]) => v), "n1' ; reboot ; echo '", 'n1\nreboot', '$prefix', 'n1 # x', '"; reboot; "', 'a}b{c'];

test('host names, profile names and problem messages never add a command, a variable or a pattern', () => {
  const problemShape = grubShape(renderGrubProblemConfig(MAC, 'no published version'));
  for (const text of HOSTILE_TEXT) {
    const named = renderGrubConfig({ ...benign, node: { ...benign.node!, hostname: text }, profile: { ...profile, name: text } }, DEVICE);
    assert.deepEqual(grubShape(named), grubShape(GOLDEN), JSON.stringify(text));
    assert.deepEqual(grubVariables(named), [], JSON.stringify(text));
    assert.deepEqual(grubOperators(named), [], JSON.stringify(text));
    assert.deepEqual(unquotedPatterns(named), [], JSON.stringify(text));
    assert.deepEqual(linuxArgs(named).slice(-2), ['rd.diskless.token=abc_DEF-1', 'BOOTIF=01-52-54-00-00-00-01']);
    const problem = renderGrubProblemConfig(MAC, text);
    assert.deepEqual(grubShape(problem), problemShape, JSON.stringify(text));
    assert.deepEqual(grubVariables(problem), ['diskless_waiting', 'prefix'], JSON.stringify(text));
    assert.deepEqual(unquotedPatterns(problem), [], JSON.stringify(text));
    assert.deepEqual(grubOperators(problem), [], JSON.stringify(text));
  }
});

test('the bootstrap every machine reads loads its own config by the MAC GRUB booted from', () => {
  const boot = renderGrubBootstrapConfig();
  assert.deepEqual(grubShape(boot), ['if', 'then', 'source', 'fi', 'echo', 'sleep', 'exit']);
  assert.deepEqual(grubOperators(boot), []);
  const source = grubCommands(boot).find((c) => c.words[0] && wordText(c.words[0]) === 'source')!;
  assert.equal(wordText(source.words[1]!), '${prefix}/grub.cfg-01-${diskless_a}-${diskless_b}-${diskless_c}-${diskless_d}-${diskless_e}-${diskless_f}');
  assert.deepEqual([...new Set(grubVariables(boot))].sort(), ['diskless_a', 'diskless_b', 'diskless_c', 'diskless_d', 'diskless_e', 'diskless_f', 'net_default_mac', 'prefix']);
  assert.deepEqual(unquotedPatterns(boot), [], 'the regular expression is quoted');
});

test('machines that wait read their own config again every 30 s, without nesting; denied ones go back to the firmware', () => {
  for (const config of [renderGrubProblemConfig(MAC, 'image not published'), renderGrubDiscoveredConfig(MAC)]) {
    assert.deepEqual(grubShape(config).filter((s) => s !== 'echo'), ['if', 'then', 'set', 'while', 'do', 'sleep', 'source', 'done', 'fi']);
    assert.deepEqual(unquotedPatterns(config), []);
    assert.match(config, /source "\$prefix\/grub\.cfg-01-52-54-00-00-00-01"/);
  }
  assert.deepEqual(grubShape(renderGrubUnknownConfig(MAC)), ['echo', 'echo', 'sleep', 'exit']);
  assert.throws(() => renderGrubDiscoveredConfig("52:54:00:00:00:01' ; reboot"), /not a MAC address/);
});
