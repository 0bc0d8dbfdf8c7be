import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.js';
import { nodeByAddress, nodeByMac } from './boot-target.js';

const yaml = (nodes: string) => `server:
  address: 10.77.0.1
dhcp: { mode: full, pool: 10.77.0.100-10.77.0.110 }
profiles:
  default:
    kernel: vmlinuz
nodes:
${nodes}`;

test('nodes are found by MAC and by reserved address; a reloaded config is looked up afresh', () => {
  const first = parseConfig(yaml(`  - { mac: 52:54:00:00:00:01, profile: default, address: 10.77.0.50 }
  - { mac: 52:54:00:00:00:02, profile: default }
`), 'a.yaml');
  assert.equal(nodeByMac(first, '52:54:00:00:00:02')?.mac, '52:54:00:00:00:02');
  assert.equal(nodeByAddress(first, '10.77.0.50')?.mac, '52:54:00:00:00:01');
  assert.equal(nodeByAddress(first, '10.77.0.51'), undefined);
  assert.equal(nodeByMac(first, '52:54:00:00:00:03'), undefined);

  const reloaded = parseConfig(yaml(`  - { mac: 52:54:00:00:00:03, profile: default, address: 10.77.0.50 }
`), 'a.yaml');
  assert.equal(nodeByAddress(reloaded, '10.77.0.50')?.mac, '52:54:00:00:00:03');
  assert.equal(nodeByMac(reloaded, '52:54:00:00:00:01'), undefined);
  assert.equal(nodeByAddress(first, '10.77.0.50')?.mac, '52:54:00:00:00:01', 'the old config keeps its own answers');
});
