import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.js';
import { addNode, addProfile, InventoryError, removeNode, removeProfile, setNode, setProfile } from './editor.js';
import { HOSTILE_CMDLINES } from '../config/testdata/hostile-cmdlines.js';

const CONFIG = `# lab inventory: keep the comments
server:
  address: 10.0.0.1            # where nodes reach us
  state_dir: /tmp/diskless-state

dhcp:
  mode: full                   # full: hand out addresses; proxy: beside an existing DHCP
                               # server, only tell PXE clients what to boot; off
  pool: 10.0.0.100-10.0.0.200
  routers: [10.0.0.1]          # flow list, spaced the way I like

profiles:
  default:
    kernel: /srv/images/vmlinuz
    initrd: [/srv/images/initrd.img]
    cmdline: console=ttyS0 ip=dhcp
  rescue:                      # the old kernel
    kernel: /srv/images/vmlinuz-old
    cmdline: 'single'

nodes:
  # the domain controller
  - mac: be:19:00:a0:d8:70
    hostname: dc1
    address: 10.0.0.11         # fixed reservation
    cmdline: rd.debug          # appended to the profile's
  - mac: 52:54:00:00:00:02     # the bench box
    hostname: bench
    profile: rescue

default_profile: default       # what unknown machines boot
`;

/** Lines only in a, lines only in b (LCS), so a test can say exactly which lines an edit touched. */
function lineDiff(a: string, b: string): { removed: string[]; added: string[] } {
  const x = a.split('\n');
  const y = b.split('\n');
  const l: number[][] = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) for (let j = y.length - 1; j >= 0; j--) l[i]![j] = x[i] === y[j] ? l[i + 1]![j + 1]! + 1 : Math.max(l[i + 1]![j]!, l[i]![j + 1]!);
  const removed: string[] = [];
  const added: string[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) (i++, j++);
    else if (j < y.length && (i === x.length || l[i]![j + 1]! >= l[i + 1]![j]!)) added.push(y[j++]!);
    else removed.push(x[i++]!);
  }
  return { removed, added };
}

const refused = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (e: unknown) => e instanceof InventoryError && pattern.test(e.message));

test('the fixture is a valid config', () => {
  assert.equal(parseConfig(CONFIG, 'diskless.yaml').nodes.length, 2);
});

test('addNode appends one entry after the last node and changes nothing else', () => {
  const out = addNode(CONFIG, { mac: '52-54-00-AA-BB-CC', hostname: 'n3', address: '10.0.0.13', profile: 'rescue' });
  assert.deepEqual(lineDiff(CONFIG, out), {
    removed: [],
    added: ['  - mac: 52:54:00:aa:bb:cc', '    hostname: n3', '    address: 10.0.0.13', '    profile: rescue'],
  });
  assert.ok(out.includes('    profile: rescue\n  - mac: 52:54:00:aa:bb:cc\n'));
  const node = parseConfig(out, 'diskless.yaml').nodes[2];
  assert.deepEqual(node, { mac: '52:54:00:aa:bb:cc', hostname: 'n3', address: '10.0.0.13', profile: 'rescue' });
});

test('addNode refuses duplicates and bad input with clear messages', () => {
  refused(() => addNode(CONFIG, { mac: 'BE:19:00:A0:D8:70' }), /MAC be:19:00:a0:d8:70 already exists \(nodes\[0\], dc1\)/);
  refused(() => addNode(CONFIG, { mac: '52:54:00:00:00:09', address: '10.0.0.11' }), /address 10\.0\.0\.11 is already reserved for dc1 \(be:19:00:a0:d8:70\)/);
  refused(() => addNode(CONFIG, { mac: 'nope' }), /"nope" is not a MAC address/);
  // parseConfig's own checks come back as the refusal, with file, line and key.
  refused(() => addNode(CONFIG, { mac: '52:54:00:00:00:09', profile: 'ghost' }, '/etc/diskless.yaml'), /^edit refused: \/etc\/diskless\.yaml:\d+: nodes\[2\]\.profile: names no profile "ghost"/);
  refused(() => addNode(CONFIG, { mac: '52:54:00:00:00:09', address: '192.168.1.5' }), /edit refused: .*not in the subnet/);
  refused(() => addNode(CONFIG, { mac: '52:54:00:00:00:09', hostname: 'bad_name!' }), /nodes\[2\]\.hostname/);
});

test('addNode creates the nodes list when there is none, or when it is empty', () => {
  const none = CONFIG.slice(0, CONFIG.indexOf('nodes:')) + 'default_profile: default\n';
  const out = addNode(none, { mac: '52:54:00:00:00:05' });
  assert.deepEqual(lineDiff(none, out), { removed: [], added: ['nodes:', '  - mac: 52:54:00:00:00:05'] });
  for (const empty of ['nodes:\n', 'nodes: []\n']) {
    const text = none + empty;
    const got = parseConfig(addNode(text, { mac: '52:54:00:00:00:05' }), 'x.yaml').nodes;
    assert.deepEqual(got.map((n) => n.mac), ['52:54:00:00:00:05']);
  }
});

test('setNode changes a value in place, keeping its comment, adds and removes keys', () => {
  const out = setNode(CONFIG, 'be-19-00-a0-d8-70', { address: '10.0.0.21', loader: 'pxelinux', cmdline: null });
  assert.deepEqual(lineDiff(CONFIG, out), {
    removed: ['    address: 10.0.0.11         # fixed reservation', '    cmdline: rd.debug          # appended to the profile\'s'],
    added: ['    address: 10.0.0.21         # fixed reservation', '    loader: pxelinux'],
  });
  assert.deepEqual(parseConfig(out, 'x.yaml').nodes[0], { mac: 'be:19:00:a0:d8:70', hostname: 'dc1', address: '10.0.0.21', profile: 'default', loader: 'pxelinux' });
});

test('setNode can drop the first key of an item and rename the MAC', () => {
  const text = CONFIG.replace('  - mac: 52:54:00:00:00:02     # the bench box\n    hostname: bench\n', '  - hostname: bench\n    mac: 52:54:00:00:00:02\n');
  const out = setNode(text, '52:54:00:00:00:02', { hostname: undefined, mac: '52:54:00:00:00:03' });
  assert.ok(out.includes('  - mac: 52:54:00:00:00:03\n    profile: rescue\n'), out);
  refused(() => setNode(CONFIG, '52:54:00:00:00:02', { mac: 'be:19:00:a0:d8:70' }), /already exists/);
  refused(() => setNode(CONFIG, '52:54:00:00:00:02', { address: '10.0.0.11' }), /already reserved for dc1/);
  refused(() => setNode(CONFIG, '52:54:00:00:00:07', { hostname: 'x' }), /no node with MAC 52:54:00:00:00:07/);
  refused(() => setNode(CONFIG, '52:54:00:00:00:02', { mac: null }), /cannot be removed/);
  refused(() => setNode(CONFIG, '52:54:00:00:00:02', { loader: 'lilo' }), /edit refused: .*loader: must be one of ipxe, pxelinux, grub/);
});

test('a missing node or profile is told apart by code from a refused edit', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return e instanceof InventoryError ? e.code : e;
    }
    return 'no error';
  };
  assert.equal(code(() => setNode(CONFIG, '52:54:00:00:00:07', { hostname: 'x' })), 'DL_INVENTORY_NOT_FOUND');
  assert.equal(code(() => removeNode(CONFIG, '52:54:00:00:00:99')), 'DL_INVENTORY_NOT_FOUND');
  assert.equal(code(() => removeProfile(CONFIG, 'ghost')), 'DL_INVENTORY_NOT_FOUND');
  assert.equal(code(() => setProfile(CONFIG, 'ghost', { cmdline: 'quiet' })), 'DL_INVENTORY_NOT_FOUND');
  assert.equal(code(() => addNode(CONFIG, { mac: '52:54:00:00:00:09', profile: 'ghost' }, '/etc/diskless.yaml')), 'DL_INVENTORY');
  assert.equal(code(() => setNode(CONFIG, 'not-a-mac', { hostname: 'x' })), 'DL_INVENTORY');
});

test('quoted values stay quoted; values that need quotes get them', () => {
  const out = setProfile(CONFIG, 'rescue', { cmdline: 'single init=/bin/sh' });
  assert.deepEqual(lineDiff(CONFIG, out), { removed: ["    cmdline: 'single'"], added: ["    cmdline: 'single init=/bin/sh'"] });
  const named = setNode(CONFIG, '52:54:00:00:00:02', { hostname: '1234' });
  assert.equal(parseConfig(named, 'x.yaml').nodes[1]!.hostname, '1234');
});

test('removeNode removes exactly the node\'s lines', () => {
  const out = removeNode(CONFIG, 'BE:19:00:A0:D8:70');
  assert.deepEqual(lineDiff(CONFIG, out), {
    removed: ['  - mac: be:19:00:a0:d8:70', '    hostname: dc1', '    address: 10.0.0.11         # fixed reservation', '    cmdline: rd.debug          # appended to the profile\'s'],
    added: [],
  });
  const both = removeNode(out, '52:54:00:00:00:02');
  assert.deepEqual(parseConfig(both, 'x.yaml').nodes, []);
  refused(() => removeNode(CONFIG, '52:54:00:00:00:99'), /no node with MAC/);
});

test('profiles: add after the last one, set nested values, remove', () => {
  const out = addProfile(CONFIG, 'nfs', { kernel: '/k', initrd: ['/a', '/b'], root: { mode: 'nfs', dir: '/srv/root' } });
  assert.deepEqual(lineDiff(CONFIG, out), {
    removed: [],
    added: ['  nfs:', '    kernel: /k', '    initrd:', '      - /a', '      - /b', '    root:', '      mode: nfs', '      dir: /srv/root'],
  });
  assert.deepEqual(parseConfig(out, '/x.yaml').profiles.get('nfs')?.root, { mode: 'nfs', dir: '/srv/root', copy: false, overlay: 'tmpfs', retry: 180 });
  refused(() => addProfile(CONFIG, 'rescue', { kernel: '/k' }), /profile "rescue" already exists/);
  refused(() => addProfile(CONFIG, 'bad', {}), /edit refused: .*profiles\.bad\.kernel: is required/);

  const set = setProfile(out, 'nfs', { root: { mode: 'live', image: '/i.sqfs' }, initrd: '/c', loader: 'pxelinux' });
  const p = parseConfig(set, '/x.yaml').profiles.get('nfs');
  assert.deepEqual([p?.initrds, p?.loader, p?.root?.mode, p?.root?.image], [['/c'], 'pxelinux', 'live', '/i.sqfs']);
  assert.deepEqual(lineDiff(CONFIG, set).removed, []);
  assert.equal(removeProfile(out, 'nfs'), CONFIG);
});

test('removeProfile refuses a profile still in use, naming who uses it', () => {
  refused(() => removeProfile(CONFIG, 'rescue'), /profile "rescue" is used by node bench \(52:54:00:00:00:02\); move them/);
  // dc1 has no profile: key and so boots "default".
  refused(() => removeProfile(CONFIG, 'default'), /used by node dc1 \(be:19:00:a0:d8:70\)/);
  const free = setNode(CONFIG, 'be:19:00:a0:d8:70', { profile: 'rescue' });
  refused(() => removeProfile(free, 'default'), /default_profile/);
  const unused = removeProfile(removeNode(CONFIG, '52:54:00:00:00:02'), 'rescue');
  assert.deepEqual([...parseConfig(unused, 'x.yaml').profiles.keys()], ['default']);
  assert.ok(unused.includes('  default:\n') && !unused.includes('the old kernel'));
  refused(() => removeProfile(CONFIG, 'ghost'), /no profile "ghost"/);
});

test('an already broken config is reported as such, not blamed on the edit', () => {
  const broken = CONFIG.replace('mode: full', 'mode: fll');
  refused(() => addNode(broken, { mac: '52:54:00:00:00:09' }), /already invalid \(not by this edit\): .*dhcp\.mode/);
  refused(() => addNode('a: [', { mac: '52:54:00:00:00:09' }), /invalid YAML/);
});

test('flow-style entries are still edited (through the Document API)', () => {
  const text = CONFIG.replace(/nodes:\n[\s\S]*?\n\ndefault_profile/, 'nodes:\n  - { mac: "52:54:00:00:00:01", hostname: a }\n\ndefault_profile');
  const out = setNode(text, '52:54:00:00:00:01', { hostname: 'b' });
  assert.equal(parseConfig(out, 'x.yaml').nodes[0]!.hostname, 'b');
  assert.ok(out.includes('# lab inventory: keep the comments'));
});

test('cmdline with loader syntax is refused on every edit, naming the key and the character', () => {
  for (const [name, cmdline, names] of HOSTILE_CMDLINES) {
    const says = (key: string) => (e: unknown) => e instanceof InventoryError && e.message.startsWith('edit refused: diskless.yaml:') && e.message.includes(`${key}.cmdline: `) && e.message.includes(names);
    assert.throws(() => setNode(CONFIG, 'be:19:00:a0:d8:70', { cmdline }), says('nodes[0]'), name);
    assert.throws(() => addNode(CONFIG, { mac: '52:54:00:00:00:09', cmdline }), says('nodes[2]'), name);
    assert.throws(() => setProfile(CONFIG, 'default', { cmdline }), says('profiles.default'), name);
    assert.throws(() => addProfile(CONFIG, 'debug', { inherits: 'default', cmdline }), says('profiles.debug'), name);
  }
});

