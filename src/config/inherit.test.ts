import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from './load.js';

const BASE = `server: { address: 10.0.0.1 }
profiles:
  base:
    kernel: /k
    initrd: [/i1, /i2]
    cmdline: console=ttyS0
    root: { mode: live, image: /img.sqfs }
`;

test('a profile inherits what it does not set and replaces what it does', () => {
  const c = parseConfig(`${BASE}  debug:
    inherits: base
    cmdline: console=ttyS0 rd.debug
  tiny:
    inherits: debug
    initrd: /small
    root:
  pxe:
    inherits: tiny
    loader: pxelinux
`, '/c.yaml');
  const debug = c.profiles.get('debug');
  assert.deepEqual(debug, { name: 'debug', kernel: '/k', initrds: ['/i1', '/i2'], cmdline: 'console=ttyS0 rd.debug', loader: 'ipxe', secureBoot: false, files: [], root: { mode: 'live', image: '/img.sqfs', copy: false, overlay: 'tmpfs', retry: 180 } });
  assert.deepEqual(c.profiles.get('tiny'), { name: 'tiny', kernel: '/k', initrds: ['/small'], cmdline: 'console=ttyS0 rd.debug', loader: 'ipxe', secureBoot: false, files: [] }, 'root: with no value drops the inherited root');
  assert.equal(c.profiles.get('pxe')?.loader, 'pxelinux');
  assert.deepEqual([...c.profiles.keys()], ['base', 'debug', 'tiny', 'pxe'], 'file order kept');
});

test('a child listed before its parent still inherits', () => {
  const c = parseConfig(`server: { address: 10.0.0.1 }
profiles:
  child: { inherits: parent, cmdline: quiet }
  parent: { kernel: /k }
`, '/c.yaml');
  assert.equal(c.profiles.get('child')?.kernel, '/k');
  assert.deepEqual([...c.profiles.keys()], ['child', 'parent']);
});

test('inheritance errors name the key and line', () => {
  assert.throws(() => parseConfig(`${BASE}  x: { inherits: ghost }\n`, '/c.yaml'), /^ConfigError: \/c\.yaml:8: profiles\.x\.inherits: names no profile "ghost" \(known: base, x\)$/);
  assert.throws(
    () => parseConfig(`server: { address: 10.0.0.1 }\nprofiles:\n  a: { inherits: b }\n  b: { inherits: c }\n  c: { inherits: a }\n`, '/c.yaml'),
    /profiles\.a\.inherits: profiles inherit in a cycle: a → b → c → a/,
  );
  assert.throws(() => parseConfig(`server: { address: 10.0.0.1 }\nprofiles:\n  a: { cmdline: quiet }\n`, '/c.yaml'), /profiles\.a\.kernel: is required \(or use image: NAME, or inherit it/);
});

test('a profile on a stored image needs no kernel and gets a live root by default', () => {
  const c = parseConfig(`server: { address: 10.0.0.1 }\nprofiles:\n  deb: { image: debian-12 }\n  net: { inherits: deb, root: { mode: nbd } }\n`, '/c.yaml');
  assert.deepEqual(c.profiles.get('deb'), { name: 'deb', image: 'debian-12', kernel: '', initrds: [], cmdline: '', loader: 'ipxe', secureBoot: false, files: [], root: { mode: 'live', copy: false, overlay: 'tmpfs', retry: 180 } });
  assert.equal(c.profiles.get('net')?.image, 'debian-12');
  assert.equal(c.profiles.get('net')?.root?.mode, 'nbd');
  assert.throws(() => parseConfig(`server: { address: 10.0.0.1 }\nprofiles:\n  d: { image: "../x" }\n`, '/c.yaml'), /profiles\.d\.image: "\.\.\/x" is not an image name/);
  assert.throws(() => parseConfig(`server: { address: 10.0.0.1 }\nprofiles:\n  d: { image: deb, root: { mode: nbd, image: /x.sqfs } }\n`, '/c.yaml'), /profiles\.d\.root\.image: the profile takes its root from image: NAME already/);
});

test('per-node files: a child profile adds to and replaces its parent\'s by path; a node replaces its profile\'s', () => {
  const c = parseConfig(`server: { address: 10.0.0.1 }
profiles:
  base:
    kernel: /k
    files:
      - { path: /etc/motd, content: "base {{hostname}}", template: true }
      - { path: /etc/issue, content: "issue", mode: 0600 }
  child:
    inherits: base
    files:
      - { path: /etc/motd, content: "child" }
nodes:
  - mac: "52:54:00:00:00:01"
    profile: child
    files:
      - { path: /etc/issue, content: "mine", mode: "0640" }
`, '/c.yaml');
  assert.deepEqual(c.profiles.get('base')?.files, [
    { path: '/etc/motd', mode: 0o644, template: true, content: 'base {{hostname}}' },
    { path: '/etc/issue', mode: 0o600, template: false, content: 'issue' },
  ]);
  assert.deepEqual(c.profiles.get('child')?.files.map((f) => [f.path, f.content]), [['/etc/issue', 'issue'], ['/etc/motd', 'child']]);
  assert.deepEqual(c.nodes[0]?.files, [{ path: '/etc/issue', mode: 0o640, template: false, content: 'mine' }]);
});

test('per-node file errors name the key and line', () => {
  const bad = (files: string) => () => parseConfig(`server: { address: 10.0.0.1 }\nprofiles:\n  p:\n    kernel: /k\n    files:\n${files}`, '/c.yaml');
  assert.throws(bad('      - { path: etc/motd, content: x }\n'), /^ConfigError: \/c\.yaml:6: profiles\.p\.files\[0\]\.path: "etc\/motd" must be a normalized absolute file path/);
  assert.throws(bad('      - { path: /etc/../shadow, content: x }\n'), /must be a normalized absolute file path/);
  assert.throws(bad("      - { path: /etc/motd }\n"), /files\[0\]\.content: is required \(inline text\), or give source: FILE/);
  assert.throws(bad('      - { path: /etc/motd, source: /nonexistent/motd }\n'), /files\[0\]\.source: \/nonexistent\/motd does not exist/);
  assert.throws(bad('      - { path: /etc/motd, content: "{{secret}}", template: true }\n'), /unknown template variable \{\{secret\}\}/);
  assert.throws(bad('      - { path: /etc/motd, content: x, mode: 4755 }\n'), /setuid, setgid and sticky bits are not allowed/);
  assert.throws(bad('      - { path: /etc/motd, content: x, mode: 0999 }\n'), /is not an octal file mode/);
  assert.throws(bad('      - { path: /a, content: x }\n      - { path: /a, content: y }\n'), /\/a is listed twice/);
});
