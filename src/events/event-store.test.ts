import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventStore } from './event-store.js';
import type { BootEvent, NewBootEvent } from './boot-event.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-events-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'events');
}

function ev(i: number, mac = i % 2 ? 'aa:aa:aa:aa:aa:01' : 'aa:aa:aa:aa:aa:02'): NewBootEvent {
  return { time: 1_000 + i, mac, kind: 'dhcp', name: 'discover', detail: `n${i}`, fields: { xid: `0x${i}` } };
}

test('events survive a reopen with their seq, and queries filter by node, cursor and time', (t) => {
  const dir = tempDir(t);
  const a = EventStore.open({ dir, syncIntervalMs: 0 });
  for (let i = 1; i <= 10; i++) a.append(ev(i));
  a.close();
  const b = EventStore.open({ dir });
  t.after(() => b.close());
  assert.equal(b.lastSeq, 10);
  assert.equal(b.append(ev(11)).seq, 11);
  assert.deepEqual(b.query({ limit: 3 }).map((e) => e.seq), [9, 10, 11]);
  assert.deepEqual(b.query({ afterSeq: 4, limit: 3 }).map((e) => e.seq), [5, 6, 7]);
  assert.deepEqual(b.query({ mac: 'aa:aa:aa:aa:aa:02', afterSeq: 5 }).map((e) => e.seq), [6, 8, 10]);
  assert.deepEqual(b.query({ sinceTime: 1_009 }).map((e) => e.seq), [9, 10, 11]);
  assert.deepEqual(b.query({ mac: 'bb:bb:bb:bb:bb:bb' }), []);
});

test('a torn last line after a crash is skipped and cut off, and appends continue after it', (t) => {
  const dir = tempDir(t);
  const a = EventStore.open({ dir });
  a.append(ev(1));
  a.append(ev(2));
  a.close();
  const [segment] = readdirSync(dir);
  assert.equal(segment, '000001.jsonl');
  appendFileSync(join(dir, segment), '{"seq":3,"time":10');
  const b = EventStore.open({ dir });
  assert.equal(b.skippedAtOpen, 1);
  assert.equal(b.lastSeq, 2);
  b.append(ev(3));
  b.close();
  const lines = readFileSync(join(dir, segment), 'utf8').trimEnd().split('\n');
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as BootEvent).seq), [1, 2, 3]);
});

test('segments rotate at the size limit, only the newest K stay, and the index forgets the rest', (t) => {
  const dir = tempDir(t);
  const s = EventStore.open({ dir, maxSegmentBytes: 400, keepSegments: 3 });
  t.after(() => s.close());
  for (let i = 1; i <= 40; i++) s.append(ev(i));
  const files = readdirSync(dir).sort();
  assert.equal(files.length, 3);
  assert.ok(files.every((f) => /^\d{6}\.jsonl$/.test(f)));
  const onDisk = files.flatMap((f) => readFileSync(join(dir, f), 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as BootEvent).seq));
  assert.deepEqual(s.all().map((e) => e.seq), onDisk);
  assert.equal(onDisk.at(-1), 40);
  assert.ok(onDisk[0]! > 1);
  assert.ok(s.query({ mac: 'aa:aa:aa:aa:aa:01', limit: 1000 }).every((e) => e.seq >= onDisk[0]!));
  s.close();
  const reopened = EventStore.open({ dir });
  t.after(() => reopened.close());
  assert.deepEqual(reopened.all().map((e) => e.seq), onDisk);
});

test('subscribers see each new event once; a throwing subscriber does not stop recording', (t) => {
  const errors: unknown[] = [];
  const s = EventStore.open({ dir: tempDir(t), onListenerError: (e) => errors.push(e) });
  t.after(() => s.close());
  const seen: number[] = [];
  s.subscribe(() => {
    throw new Error('socket gone');
  });
  const stop = s.subscribe((e) => seen.push(e.seq));
  s.append(ev(1));
  stop();
  s.append(ev(2));
  assert.deepEqual(seen, [1]);
  assert.equal(errors.length, 2);
  assert.equal(s.lastSeq, 2);
});
