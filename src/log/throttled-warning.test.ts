import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { memoryLogger } from './logger.js';
import { ThrottledWarning } from './throttled-warning.js';

describe('ThrottledWarning', () => {
  it('logs the first occurrence, counts the rest of the interval, and reports the count with the next line', () => {
    const log = memoryLogger();
    let clock = 1_000_000;
    const warning = new ThrottledWarning(log, 'dhcp suspicious request dropped', 60_000, () => clock);
    for (let i = 0; i < 1000; i++) {
      warning.note({ mac: `02:00:00:00:00:${(i % 256).toString(16).padStart(2, '0')}` });
      clock += 10;
    }
    assert.deepEqual(log.lines, [{ level: 'warn', msg: 'dhcp suspicious request dropped', mac: '02:00:00:00:00:00' }]);
    clock += 60_000;
    warning.note({ mac: '02:00:00:00:00:ff' });
    assert.deepEqual(log.lines[1], { level: 'warn', msg: 'dhcp suspicious request dropped', mac: '02:00:00:00:00:ff', suppressed: 999 });
    warning.note({ mac: '02:00:00:00:00:ff' });
    assert.equal(log.lines.length, 2);
  });

  it('a clock set back opens a new interval instead of silencing the warning', () => {
    const log = memoryLogger();
    let clock = 5_000_000;
    const warning = new ThrottledWarning(log, 'w', 60_000, () => clock);
    warning.note({});
    clock -= 3_600_000;
    warning.note({});
    assert.equal(log.lines.length, 2);
  });
});
