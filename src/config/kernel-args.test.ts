import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootWordProblem, CMDLINE_VALUE_MAX, inertText, kernelArgsProblem } from './kernel-args.js';
import { CHAIN_PAYLOAD, HOSTILE_CMDLINES } from './testdata/hostile-cmdlines.js';


test('real kernel arguments fit the rule', () => {
  for (const args of [
    '',
    'quiet',
    'console=tty0 console=ttyS0,115200n8 quiet splash',
    'ip=10.0.0.5::10.0.0.1:255.255.255.0:n1:eth0:off',
    'systemd.unit=multi-user.target rd.break=pre-mount rd.shell',
    'nfsroot=10.0.0.1:/srv/x,vers=4 root=/dev/nfs rw',
    'modprobe.blacklist=nouveau,radeon isolcpus=1-3 nohz_full=1-3 mitigations=auto,nosmt',
    'init=/usr/lib/systemd/systemd loglevel=7 printk.devkmsg=on',
    'video=1024x768@60 memmap=4G!12G hugepages=16 crashkernel=256M@16M',
    'ip=[fe80::1]:dhcp6 module.param=~value^ a%20b x+y -- single',
    '  leading and  double  spaces  ',
  ]) {
    assert.equal(kernelArgsProblem(args), undefined, args);
  }
});

test('the reviewed payload and its variants are refused, naming the character and where it is', () => {
  for (const [name, args, names] of HOSTILE_CMDLINES) {
    const problem = kernelArgsProblem(args);
    assert.ok(problem, name);
    assert.ok(problem.includes(names), `${name}: ${problem}`);
  }
  assert.match(kernelArgsProblem(CHAIN_PAYLOAD) ?? '', /iPXE and GRUB start another command at it/);
  assert.match(kernelArgsProblem('quiet #') ?? '', /the boot token and BOOTIF included/);
  assert.match(kernelArgsProblem('a\nb') ?? '', /^must be one line/);
});

test('a value longer than the kernel can take beside our own arguments is refused', () => {
  assert.equal(kernelArgsProblem('x'.repeat(CMDLINE_VALUE_MAX)), undefined);
  assert.match(kernelArgsProblem('x'.repeat(CMDLINE_VALUE_MAX + 1)) ?? '', /^is 1025 characters long; at most 1024 fit/);
});

test('a word on a loader line has no spaces either', () => {
  assert.equal(bootWordProblem('store/debian/0123456789abcdef/vmlinuz'), undefined);
  assert.equal(bootWordProblem('http://10.0.0.1:8080'), undefined);
  assert.match(bootWordProblem('profiles/a b/kernel') ?? '', /space \(character 11\)/);
  assert.match(bootWordProblem('a;b') ?? '', /";"/);
  assert.equal(bootWordProblem(''), 'is empty');
});

test('inert text keeps what people read and loses what loaders parse', () => {
  assert.equal(inertText('n1 (52:54:00:00:00:01)'), 'n1 (52:54:00:00:00:01)');
  assert.equal(inertText('Cannot resolve image "deb": no published version'), 'Cannot resolve image ?deb?: no published version');
  assert.equal(inertText(`${CHAIN_PAYLOAD}\nchain \${x} && y || z \\`), 'quiet ? chain http://elsewhere/x.ipxe ? ? chain ??x? ?? y ?? z ?');
  assert.equal(inertText('a\r\n\tb\0c'), 'a b c');
  assert.equal(inertText('nœud'), 'n?ud');
});
