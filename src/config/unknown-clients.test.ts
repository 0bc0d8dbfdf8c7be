import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from './load.js';
import { ConfigError } from './yaml-fields.js';

const config = (dhcp: string, extra = '') => `server:
  address: 10.0.0.1
dhcp:
${dhcp}
profiles:
  default:
    kernel: /k
${extra}`;

const refused = (text: string, pattern: RegExp) =>
  assert.throws(() => parseConfig(text, '/etc/diskless.yaml'), (e: unknown) => e instanceof ConfigError && pattern.test(e.message));

test('register is accepted in full mode with a pool and in proxy mode', () => {
  const full = parseConfig(config('  mode: full\n  pool: 10.0.0.100-10.0.0.200\n  unknown_clients: register'), 'd.yaml');
  assert.equal(full.dhcp.unknownClients, 'register');
  const proxy = parseConfig(config('  mode: proxy\n  unknown_clients: register'), 'd.yaml');
  assert.equal(proxy.dhcp.unknownClients, 'register');
});

test('register in full mode without a pool is refused at its line', () => {
  refused(config('  mode: full\n  unknown_clients: register'), /^\/etc\/diskless\.yaml:5: dhcp\.unknown_clients: register needs dhcp\.pool in full mode/);
});

test('an explicit allow needs default_profile, and a pool in full mode', () => {
  refused(config('  mode: proxy\n  unknown_clients: allow'), /:5: dhcp\.unknown_clients: allow boots default_profile, which is not set/);
  refused(config('  mode: full\n  unknown_clients: allow', 'default_profile: default\n'), /:5: dhcp\.unknown_clients: allow needs dhcp\.pool in full mode/);
  assert.equal(parseConfig(config('  mode: proxy\n  unknown_clients: allow', 'default_profile: default\n'), 'd.yaml').dhcp.unknownClients, 'allow');
});

test('configs that never mention unknown_clients still load as allow', () => {
  assert.equal(parseConfig(config('  mode: full'), 'd.yaml').dhcp.unknownClients, 'allow');
});

test('an unknown choice names the three that exist', () => {
  refused(config('  mode: proxy\n  unknown_clients: adopt'), /:5: dhcp\.unknown_clients: must be one of allow, deny, register \(got "adopt"\)/);
});
