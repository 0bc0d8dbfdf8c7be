import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryLogger } from './logger.js';
import { throttledLog } from './throttled-log.js';

test('a repeated warning is logged at once, then at most once per interval with what it folded in', () => {
  const log = memoryLogger();
  let now = 1_000;
  const warn = throttledLog(log, 'warn', 'report refused', { intervalMs: 60_000, now: () => now });
  warn({ mac: 'a' });
  for (let i = 0; i < 10_000; i++) warn({ mac: 'b' });
  assert.equal(log.lines.length, 1, 'a flood inside one interval is one line');
  now += 60_000;
  warn({ mac: 'c' });
  assert.deepEqual(log.lines.map((l) => [l.level, l.msg, l.mac, l.count, l.notLogged]), [
    ['warn', 'report refused', 'a', 1, 0],
    ['warn', 'report refused', 'c', 10_002, 10_000],
  ]);
});
