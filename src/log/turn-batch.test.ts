import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchPerTurn } from './turn-batch.js';

test('lines of one turn leave in one write, in order; flush writes what is pending at once', () => {
  const writes: string[] = [];
  const turns: Array<() => void> = [];
  const batch = batchPerTurn((c) => writes.push(c), (fn) => turns.push(fn));
  batch.write('a\n');
  batch.write('b\n');
  batch.write('c\n');
  assert.deepEqual(writes, [], 'nothing before the turn ends');
  assert.equal(turns.length, 1, 'one flush scheduled per turn, not per line');
  turns.shift()!();
  assert.deepEqual(writes, ['a\nb\nc\n']);

  batch.write('d\n');
  batch.flush(); // process exit
  assert.deepEqual(writes, ['a\nb\nc\n', 'd\n']);
  turns.shift()!(); // the turn's own flush finds nothing left
  assert.deepEqual(writes, ['a\nb\nc\n', 'd\n']);
  batch.write('e\n');
  assert.equal(turns.length, 1, 'a new turn schedules again');
});
