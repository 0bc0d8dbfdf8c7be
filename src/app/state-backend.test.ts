import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spreadCursor } from './state-backend.js';
import { formatIpv4 } from '../net/ipv4.js';

const LAN = { start: '10.1.0.100', end: '10.1.0.199' };
const RACK2 = { start: '10.2.0.100', end: '10.2.0.199' };

test('servers sharing the state start each subnet\'s pool scans apart, inside that pool', () => {
  const starts = (pool: { start: string; end: string }) =>
    ['10.1.0.1', '10.1.0.2', '10.1.0.3'].map((server) => formatIpv4(spreadCursor(pool, server).next!));
  for (const [pool, prefix] of [[LAN, '10.1.0.'], [RACK2, '10.2.0.']] as const) {
    const at = starts(pool);
    for (const ip of at) {
      assert.ok(ip.startsWith(prefix), `${ip} lies in ${pool.start}-${pool.end}`);
      const last = Number(ip.split('.')[3]);
      assert.ok(last >= 100 && last <= 199, `${ip} lies in ${pool.start}-${pool.end}`);
    }
    assert.equal(new Set(at).size, at.length, `three servers, three starting points: ${at.join(', ')}`);
  }
  assert.equal(spreadCursor(undefined, '10.1.0.1').next, undefined, 'no pool: the scan starts nowhere in particular');
});
