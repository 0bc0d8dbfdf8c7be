import { test } from 'node:test';
import assert from 'node:assert/strict';
import { negotiateOptions, type Negotiated } from './negotiate.js';

const limits = { maxBlksize: 8192, maxWindowsize: 64, maxWindowBytes: 1 << 30 };
const opts = (...pairs: Array<[string, string]>) => pairs.map(([name, value]) => ({ name, value }));

const cases: Array<{ name: string; request: Array<[string, string]>; size?: number; want: Negotiated }> = [
  { name: 'no options: RFC 1350 defaults and no OACK', request: [], want: { blksize: 512, windowsize: 1, oack: [] } },
  { name: 'blksize inside the limit is granted', request: [['blksize', '1468']],
    want: { blksize: 1468, windowsize: 1, oack: opts(['blksize', '1468']) } },
  { name: 'blksize above the configured max is clamped, not refused', request: [['blksize', '65464']],
    want: { blksize: 8192, windowsize: 1, oack: opts(['blksize', '8192']) } },
  { name: 'blksize far above RFC 2348 range is clamped', request: [['blksize', '99999999999999999999999']],
    want: { blksize: 8192, windowsize: 1, oack: opts(['blksize', '8192']) } },
  { name: 'blksize 8, the RFC 2348 minimum, is granted', request: [['blksize', '8']],
    want: { blksize: 8, windowsize: 1, oack: opts(['blksize', '8']) } },
  { name: 'blksize below 8 is ignored', request: [['blksize', '7']], want: { blksize: 512, windowsize: 1, oack: [] } },
  { name: 'non-numeric blksize is ignored', request: [['blksize', '1k']], want: { blksize: 512, windowsize: 1, oack: [] } },
  { name: 'negative blksize is ignored', request: [['blksize', '-1']], want: { blksize: 512, windowsize: 1, oack: [] } },
  { name: 'option names are case-insensitive and answered lowercase', request: [['BLKSIZE', '01024']],
    want: { blksize: 1024, windowsize: 1, oack: opts(['blksize', '1024']) } },
  { name: 'tsize 0 in a read request is answered with the file size', request: [['tsize', '0']], size: 123456,
    want: { blksize: 512, windowsize: 1, oack: opts(['tsize', '123456']) } },
  { name: 'tsize of an empty file', request: [['tsize', '0']], size: 0,
    want: { blksize: 512, windowsize: 1, oack: opts(['tsize', '0']) } },
  { name: 'non-numeric tsize is ignored', request: [['tsize', 'x']], want: { blksize: 512, windowsize: 1, oack: [] } },
  { name: 'timeout 1..255 is echoed exactly', request: [['timeout', '3']],
    want: { blksize: 512, windowsize: 1, timeoutMs: 3000, oack: opts(['timeout', '3']) } },
  { name: 'timeout 0 is ignored', request: [['timeout', '0']], want: { blksize: 512, windowsize: 1, oack: [] } },
  { name: 'timeout 256 is ignored (RFC 2349 forbids changing it)', request: [['timeout', '256']],
    want: { blksize: 512, windowsize: 1, oack: [] } },
  { name: 'windowsize inside the limit is granted', request: [['windowsize', '16']],
    want: { blksize: 512, windowsize: 16, oack: opts(['windowsize', '16']) } },
  { name: 'windowsize above the limit is clamped', request: [['windowsize', '65535']],
    want: { blksize: 512, windowsize: 64, oack: opts(['windowsize', '64']) } },
  { name: 'windowsize 0 is ignored', request: [['windowsize', '0']], want: { blksize: 512, windowsize: 1, oack: [] } },
  { name: 'unknown options are ignored', request: [['multicast', ''], ['rollover', '0']],
    want: { blksize: 512, windowsize: 1, oack: [] } },
  { name: 'the OACK keeps the client order', request: [['windowsize', '4'], ['x', 'y'], ['tsize', '0'], ['blksize', '1432']], size: 9,
    want: { blksize: 1432, windowsize: 4, oack: opts(['windowsize', '4'], ['tsize', '9'], ['blksize', '1432']) } },
];

for (const c of cases) {
  test(`negotiate: ${c.name}`, () => {
    assert.deepEqual(negotiateOptions(opts(...c.request), limits, c.size ?? 1000), c.want);
  });
}

test('negotiate: a configured max above 65464 still respects RFC 2348', () => {
  const r = negotiateOptions(opts(['blksize', '70000']), { maxBlksize: 100000, maxWindowsize: 64 }, 0);
  assert.equal(r.blksize, 65464);
});

test('negotiate: windowsize is lowered so one window stays within maxWindowBytes', () => {
  const lim = { maxBlksize: 8192, maxWindowsize: 64, maxWindowBytes: 65536 };
  assert.deepEqual(negotiateOptions(opts(['windowsize', '64'], ['blksize', '8192']), lim, 0),
    { blksize: 8192, windowsize: 8, oack: opts(['windowsize', '8'], ['blksize', '8192']) });
  assert.equal(negotiateOptions(opts(['blksize', '1468'], ['windowsize', '64']), lim, 0).windowsize, 44);
  assert.equal(negotiateOptions(opts(['blksize', '512'], ['windowsize', '64']), lim, 0).windowsize, 64);
  assert.equal(negotiateOptions(opts(['blksize', '65464'], ['windowsize', '4']), { ...lim, maxBlksize: 65464 }, 0).windowsize, 1,
    'never below 1');
  assert.equal(negotiateOptions(opts(['windowsize', '64']), lim, 0).windowsize, 64, '64 × 512 default blocks fit');
});
