import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from './load.js';
import { proposedPool, starterConfig, type StarterFacts } from './starter.js';

const FACTS: StarterFacts = {
  interface: 'eth1', address: '10.0.0.1', prefix: 24, router: '10.0.0.254', dns: ['127.0.0.53', '10.0.0.53'],
  domain: 'cluster.example', otherDhcpServers: [], hostname: 'boot1', date: '2026-12-07',
};

test('pool: about 40 % to 80 % of the subnet, the server kept out, none for tiny subnets', () => {
  assert.deepEqual(proposedPool('10.0.0.1', 24), { start: '10.0.0.100', end: '10.0.0.200' });
  assert.deepEqual(proposedPool('10.0.0.150', 24), { start: '10.0.0.100', end: '10.0.0.149' });
  assert.deepEqual(proposedPool('10.0.0.110', 24), { start: '10.0.0.111', end: '10.0.0.200' });
  assert.deepEqual(proposedPool('172.16.5.1', 16), { start: '172.16.100.0', end: '172.16.200.0' });
  assert.equal(proposedPool('10.0.0.1', 30), undefined);
});

test('full mode: the host\'s address, subnet, gateway, usable name servers and domain; it loads', () => {
  const text = starterConfig(FACTS);
  const c = parseConfig(text, '/etc/diskless/diskless.yaml');
  assert.equal(c.server.address, '10.0.0.1');
  assert.equal(c.server.interface, 'eth1');
  assert.equal(c.dhcp.mode, 'full');
  assert.deepEqual(c.dhcp.subnets[0]?.pool, { start: '10.0.0.100', end: '10.0.0.200' });
  assert.deepEqual(c.dhcp.subnets[0]?.routers, ['10.0.0.254']);
  assert.deepEqual(c.dhcp.subnets[0]?.dns, ['10.0.0.53'], 'a loopback resolver is useless to nodes');
  assert.equal(c.dhcp.domain, 'cluster.example');
  assert.equal(c.dhcp.unknownClients, 'register');
  assert.equal(c.profiles.get('default')?.image, 'debian');
  assert.match(text, /^# Diskless config for boot1, written by "diskless init --interface eth1" on 2026-12-07\.$/m);
  assert.match(text, /No other DHCP server answered on eth1/);
});

test('proxy mode when another server answers; its address only in a comment', () => {
  const text = starterConfig({ ...FACTS, otherDhcpServers: [{ serverId: '10.0.0.2', offered: '10.0.0.57' }] });
  const c = parseConfig(text, '/x.yaml');
  assert.equal(c.dhcp.mode, 'proxy');
  assert.equal(c.dhcp.subnets[0]?.pool, undefined);
  assert.match(text, /^  # Another DHCP server answers on eth1: 10\.0\.0\.2 \(offered 10\.0\.0\.57\)\.$/m);
});

test('what the host says is checked before it lands in YAML: a bad domain is left out', () => {
  const c = parseConfig(starterConfig({ ...FACTS, domain: 'x\ny: 1', router: 'nonsense' }), '/x.yaml');
  assert.equal(c.dhcp.domain, undefined);
  assert.deepEqual(c.dhcp.subnets[0]?.routers, []);
});
