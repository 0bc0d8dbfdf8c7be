import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressBar } from './progress.js';

function sink(isTTY: boolean) {
  const out = { text: '', isTTY, columns: 60, write: (s: string) => (out.text += s) };
  return out;
}

test('not a terminal: a plain line at each further quarter, nothing redrawn', () => {
  const out = sink(false);
  const bar = new ProgressBar({ label: 'initrd', unit: 'bytes', output: out });
  for (let done = 0; done <= 8 * 1048576; done += 1048576) bar.update(done, 8 * 1048576);
  bar.finish();
  assert.equal(out.text, ['initrd: 0% (0.0/8.0 MiB)', 'initrd: 25% (2.0/8.0 MiB)', 'initrd: 50% (4.0/8.0 MiB)', 'initrd: 75% (6.0/8.0 MiB)', 'initrd: 100% (8.0/8.0 MiB)', ''].join('\n'));
  assert.ok(!out.text.includes('\r'));
});

test('a terminal: one line redrawn at most every 100 ms, always at 100%, ended by finish', () => {
  const out = sink(true);
  let now = 0;
  const bar = new ProgressBar({ label: 'modules', output: out, now: () => now });
  bar.update(1, 4);
  now = 50;
  bar.update(2, 4); // too soon: skipped
  now = 200;
  bar.update(3, 4);
  now = 210;
  bar.update(4, 4); // the end is always drawn
  bar.finish();
  const draws = out.text.split('\r').slice(1);
  assert.equal(draws.length, 3);
  assert.match(draws[0]!, /^\[#+-+\] modules  25% 1\/4\x1b\[K$/);
  assert.match(draws[2]!, /^\[#+\] modules 100% 4\/4\x1b\[K\n$/);
});
