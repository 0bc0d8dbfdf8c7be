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

test('the first occurrence is logged, the rest of the interval counted, and the count reported with the next line', () => {
  const log = memoryLogger();
  let clock = 1_000_000;
  const warn = throttledLog(log, 'warn', 'dhcp suspicious request dropped', { intervalMs: 60_000, now: () => clock });
  for (let i = 0; i < 1000; i++) {
    warn({ mac: `02:00:00:00:00:${(i % 256).toString(16).padStart(2, '0')}` });
    clock += 10;
  }
  assert.deepEqual(log.lines, [{ level: 'warn', msg: 'dhcp suspicious request dropped', mac: '02:00:00:00:00:00', count: 1, notLogged: 0 }]);
  clock += 60_000;
  warn({ mac: '02:00:00:00:00:ff' });
  assert.deepEqual(log.lines[1], { level: 'warn', msg: 'dhcp suspicious request dropped', mac: '02:00:00:00:00:ff', count: 1001, notLogged: 999 });
  warn({ mac: '02:00:00:00:00:ff' });
  assert.equal(log.lines.length, 2);
});

test('a clock set back opens a new interval instead of silencing the line', () => {
  const log = memoryLogger();
  let clock = 5_000_000;
  const warn = throttledLog(log, 'warn', 'w', { intervalMs: 60_000, now: () => clock });
  warn({});
  clock -= 3_600_000;
  warn({});
  assert.equal(log.lines.length, 2);
});
