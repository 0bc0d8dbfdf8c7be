import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BootRecord } from '../events/node-state.js';
import { reportTrust, unprovableNodes } from './runner.js';
import { parseConfig } from '../config/load.js';

const boot = (more: Partial<BootRecord>): BootRecord => ({ startedAt: 1000, startSeq: 5, startedBy: 'dhcp', phase: 'booted', stages: [], ...more });

test('reportTrust: only a report proven by the key this boot redeemed after the move counts as booted; unproven failures count only before any key', () => {
  const moved = 2000;
  const cases: Array<[string, Partial<BootRecord>, ReturnType<typeof reportTrust>]> = [
    ['proven, keyed after the move', { keyedAt: 2500, endProven: true }, 'proven'],
    ['no proof, no key (failed before identity, or a forger)', {}, 'unproven'],
    ['no proof although the boot holds a key', { keyedAt: 2500 }, 'refuted'],
    ['proven, but keyed before the move (an earlier boot)', { keyedAt: 1500, endProven: true }, 'refuted'],
  ];
  for (const [what, b, want] of cases) assert.equal(reportTrust(boot(b), moved), want, what);
  assert.equal(reportTrust(boot({ keyedAt: 1500, endProven: true }), undefined), 'proven', 'no move time known: the boot\'s own proof');
});

test('unprovableNodes: a rollout refuses nodes whose boots never redeem a secrets token, naming each and what to change', () => {
  const cfg = (dhcp: string, more = '') => parseConfig(`server: { address: 10.0.0.1 }
dhcp: { mode: ${dhcp} }
profiles:
  deb: { image: deb }
  old: { image: deb, loader: pxelinux }
nodes:
  - { mac: "52:54:00:00:00:01", hostname: n1, profile: deb }
  - { mac: "52:54:00:00:00:02", hostname: n2, profile: old }
  - { mac: "52:54:00:00:00:03", hostname: n3, profile: deb, loader: pxelinux }
${more}`, '/etc/diskless/diskless.yaml');
  const full = cfg('proxy');
  assert.deepEqual(unprovableNodes(full, full.nodes).map((u) => u.name), ['n2', 'n3']);
  const [n2, n3] = unprovableNodes(full, full.nodes);
  assert.match(n2!.reason, /profile old's loader: pxelinux/);
  assert.match(n3!.reason, /its loader: pxelinux/);
  assert.equal(n3!.fix, 'give it loader: ipxe (or grub) in /etc/diskless/diskless.yaml');
  assert.deepEqual(unprovableNodes(full, [full.nodes[0]!]), [], 'an iPXE node with our DHCP proves its boots');
  const off = cfg('off');
  const none = unprovableNodes(off, [off.nodes[0]!]);
  assert.equal(none.length, 1);
  assert.match(none[0]!.reason, /dhcp\.mode is off/);
  assert.match(none[0]!.fix, /serve DHCP \(dhcp\.mode: full, or proxy/);
});
