import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../log/logger.js';
import { decodeStateFile, encodeStateFile, readStateFile, readStateFileSync, StateFileError, StateFileWriter, writeStateFile, type StateFileFormat } from './state-file.js';

const NAMES: StateFileFormat<string[]> = {
  what: 'names',
  version: 2,
  decode(doc) {
    if (!Array.isArray(doc.names)) throw new Error('no "names" list');
    return doc.names.map(String);
  },
  encode: (names) => ({ names }),
};

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dl-state-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A timer queue the test fires by hand. */
function manualTimers() {
  const due: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
  return {
    setTimer: (fn: () => void, ms: number) => {
      const t = { fn, ms, cancelled: false };
      due.push(t);
      return { cancel: () => { t.cancelled = true; } };
    },
    pending: () => due.filter((t) => !t.cancelled).map((t) => t.ms),
    fire: () => {
      for (const t of due.splice(0)) if (!t.cancelled) t.fn();
    },
  };
}

test('the version field goes first and round-trips', () => {
  const text = encodeStateFile(NAMES, ['a', 'b']);
  assert.equal(text, '{\n  "format": 2,\n  "names": [\n    "a",\n    "b"\n  ]\n}\n');
  assert.deepEqual(decodeStateFile('/s/names.json', NAMES, text), ['a', 'b']);
  const legacy: StateFileFormat<string[]> = { ...NAMES, versionField: 'version' };
  assert.match(encodeStateFile(legacy, []), /^\{\n {2}"version": 2,/);
});

test('what is wrong with a file is said with its name', () => {
  const cases: Array<[string, RegExp]> = [
    ['{ "format": 2, "names": [', /^Cannot load names from \/s\/n\.json: not JSON/],
    ['[1, 2]', /^Cannot load names from \/s\/n\.json: not a JSON object$/],
    ['{ "names": [] }', /^Cannot load names from \/s\/n\.json: no "format" field$/],
    ['{ "format": 3, "names": [] }', /^Cannot load names from \/s\/n\.json: "format" is 3, and this server reads 2$/],
    ['{ "format": 2, "names": {} }', /^Cannot load names from \/s\/n\.json: no "names" list$/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => decodeStateFile('/s/n.json', NAMES, text), (e: unknown) => e instanceof StateFileError && e.path === '/s/n.json' && message.test(e.message), text);
  }
  const advised: StateFileFormat<string[]> = { ...NAMES, remedy: 'remove it' };
  assert.throws(() => decodeStateFile('/s/n.json', advised, '{'), /not JSON .*; remove it$/);
});

test('a file from before the version field is read as the current version only when the format says so', () => {
  const unversioned = '{ "names": ["x"] }';
  assert.throws(() => decodeStateFile('/s/n.json', NAMES, unversioned), /no "format" field/);
  assert.deepEqual(decodeStateFile('/s/n.json', { ...NAMES, unversionedIsCurrent: true }, unversioned), ['x']);
  assert.throws(() => decodeStateFile('/s/n.json', { ...NAMES, unversionedIsCurrent: true }, '{ "format": 1, "names": [] }'), /"format" is 1/);
});

test('reads: a missing file is undefined; writes are atomic, create the directory and set the mode', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'state', 'names.json');
  assert.equal(await readStateFile(path, NAMES), undefined);
  assert.equal(readStateFileSync(path, NAMES), undefined);
  await writeStateFile(path, { ...NAMES, mode: 0o600 }, ['n1']);
  assert.deepEqual(await readStateFile(path, NAMES), ['n1']);
  assert.deepEqual(readStateFileSync(path, NAMES), ['n1']);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(join(dir, 'state')), ['names.json']);
  await writeFile(path, 'garbage');
  await assert.rejects(readStateFile(path, NAMES), (e: unknown) => e instanceof StateFileError && /names\.json: not JSON/.test(e.message));
});

test('group commit: changes before a write share it, and commit() resolves only once its change is in the file', async (t) => {
  const path = join(await tempDir(t), 'names.json');
  const names: string[] = [];
  const written: string[][] = [];
  /** Writes in progress, each waiting for the test to let it finish. */
  const running: Array<() => void> = [];
  const writer = new StateFileWriter({
    path,
    format: NAMES,
    snapshot: () => [...names],
    writeFile: async (_p, text) => {
      await new Promise<void>((resolve) => running.push(resolve));
      written.push(decodeStateFile(path, NAMES, text));
    },
  });
  const order: string[] = [];
  names.push('a');
  writer.changed();
  names.push('b');
  writer.changed();
  const ab = writer.commit().then(() => order.push('ab'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(running.length, 1, 'the write started');
  // A change while the write runs waits for the next one.
  names.push('c');
  writer.changed();
  const c = writer.commit().then(() => order.push('c'));
  running.shift()!();
  await ab;
  assert.deepEqual(written, [['a', 'b']]);
  assert.deepEqual(order, ['ab'], 'c is not in the first write, so its commit waits');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(running.length, 1, 'the next write started when the first ended');
  running.shift()!();
  await c;
  assert.deepEqual(written, [['a', 'b'], ['a', 'b', 'c']]);
  await writer.commit();
  assert.equal(written.length, 2, 'nothing left to write');
});

test('a failed write rejects its commits and is logged; nothing is retried until the next change, commit or flush', async (t) => {
  const path = join(await tempDir(t), 'names.json');
  const log = memoryLogger();
  let fail = true;
  let writes = 0;
  const writer = new StateFileWriter({
    path,
    format: NAMES,
    snapshot: () => ['kept'],
    logger: log,
    writeFile: async () => {
      writes++;
      if (fail) throw new Error('ENOSPC');
    },
  });
  writer.changed();
  await assert.rejects(writer.commit(), /ENOSPC/);
  assert.deepEqual(log.lines.map((l) => [l.level, l.msg, l.file, l.error]), [['warn', 'names not saved', path, 'ENOSPC']]);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(writes, 1);
  fail = false;
  await writer.flush();
  assert.equal(writes, 2, 'flush wrote what was still unsaved');
  await writer.commit();
  assert.equal(writes, 2);
});

test('with an interval, a write waits out the rest of the interval since the last one; flush writes at once', async (t) => {
  const path = join(await tempDir(t), 'names.json');
  let now = 10_000;
  const timers = manualTimers();
  const names: string[] = [];
  const writer = new StateFileWriter({ path, format: NAMES, snapshot: () => [...names], minIntervalMs: 1000, now: () => now, setTimer: timers.setTimer });
  names.push('a');
  writer.changed();
  names.push('b');
  writer.changed();
  assert.deepEqual(timers.pending(), [0], 'one write for both changes, due now');
  timers.fire();
  await writer.commit();
  assert.deepEqual(await readStateFile(path, NAMES), ['a', 'b']);

  now += 300;
  names.push('c');
  writer.changed();
  assert.deepEqual(timers.pending(), [700], 'the rest of the interval');
  assert.deepEqual(await readStateFile(path, NAMES), ['a', 'b']);
  await writer.flush();
  assert.deepEqual(await readStateFile(path, NAMES), ['a', 'b', 'c']);
  assert.deepEqual(timers.pending(), [], 'the timer was cancelled');
  assert.equal(JSON.parse(await readFile(path, 'utf8')).format, 2);
});
