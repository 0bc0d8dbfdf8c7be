import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from './load.js';

const base = (nodePower: string, profilePower = '') => `server: { address: 10.0.0.1, state_dir: /tmp/x }
profiles:
  rack:
    kernel: /boot/vmlinuz
${profilePower ? `    power: ${profilePower}\n` : ''}nodes:
  - { mac: "52:54:00:00:00:01", hostname: n1, profile: rack${nodePower ? `, power: ${nodePower}` : ''} }
`;

test('power: a node\'s settings over its profile\'s, with the defaults', () => {
  const c = parseConfig(base('{ ipmi: 10.0.1.11 }', '{ user: admin, password_file: /etc/diskless/bmc.pass }'), '/etc/diskless/diskless.yaml');
  assert.deepEqual(c.nodes[0]!.power, { ipmi: '10.0.1.11', port: 623, user: 'admin', passwordFile: '/etc/diskless/bmc.pass', cipherSuite: 3 });
  assert.equal(parseConfig(base(''), '/x.yaml').nodes[0]!.power, undefined, 'no ipmi address: no BMC');
});

test('power: what is missing or could read as an ipmitool option is refused, naming the key', () => {
  assert.throws(() => parseConfig(base('{ ipmi: 10.0.1.11 }'), '/x.yaml'), /power\.user: is required with power\.ipmi/);
  assert.throws(() => parseConfig(base('{ ipmi: 10.0.1.11, user: admin }'), '/x.yaml'), /power\.password_file: is required/);
  assert.throws(() => parseConfig(base('{ user: admin }'), '/x.yaml'), /power\.ipmi: is required/);
  assert.throws(() => parseConfig(base('{ ipmi: "-H", user: admin, password_file: /p }'), '/x.yaml'), /ipmi: "-H" is not an address or host name/);
  assert.throws(() => parseConfig(base('{ ipmi: 10.0.1.11, user: "-P", password_file: /p }'), '/x.yaml'), /user: "-P" is not an IPMI user name/);
  assert.throws(() => parseConfig(base('{ ipmi: 10.0.1.11, user: a, password_file: /p, password: x }'), '/x.yaml'), /password/);
});
