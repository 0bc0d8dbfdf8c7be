import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BootRecord } from '../events/node-state.js';
import { reportTrust } from './runner.js';

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
