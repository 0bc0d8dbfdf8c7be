import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DiscoveredStore, readDiscovered } from './discovered.js';

/** A clock and a timer queue the test moves by hand. */
function fakeTime(start = Date.parse('2024-05-01T12:00:00Z')) {
  let now = start;
  const timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
  return {
    now: () => now,
    setTimer: (fn: () => void, ms: number) => {
      const t = { at: now + ms, fn, cancelled: false };
      timers.push(t);
      return { cancel: () => { t.cancelled = true; } };
    },
    pending: () => timers.filter((t) => !t.cancelled).length,
    /** Moves the clock and fires what fell due. */
    advance(ms: number) {
      now += ms;
      for (const t of timers.splice(0)) {
        if (t.cancelled) continue;
        if (t.at <= now) t.fn();
        else timers.push(t);
      }
    },
  };
}

async function tempDir(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'dl-discovered-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Lets the chained write finish (fs calls resolve on later turns). */
async function settle(store: DiscoveredStore) {
  await store.flush();
}

const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';
const C = '52:54:00:00:00:0c';

test('sightings are counted and merged; the file is written once per interval', async (t) => {
  const path = join(await tempDir(t), 'discovered.json');
  const clock = fakeTime();
  const store = await DiscoveredStore.open({ path, now: clock.now, setTimer: clock.setTimer, writeIntervalMs: 1000 });
  store.record({ mac: A, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 'BiosX86' });
  store.record({ mac: A, userClass: 'iPXE', ip: '10.0.0.100' });
  store.record({ mac: B, arch: 'EfiX64' });
  // Three sightings, one pending write, nothing on disk yet.
  assert.equal(clock.pending(), 1);
  assert.deepEqual(await readDiscovered(path), []);

  clock.advance(1000);
  // The due write runs on later turns of the event loop: wait for it, however loaded the machine.
  const deadline = Date.now() + 20_000;
  while ((await readDiscovered(path)).length !== 2) {
    assert.ok(Date.now() < deadline, 'the due write reached the file');
    await sleep(10);
  }
  // The file is in place a few turns before the writer counts its write as done.
  await settle(store);
  const first = await readDiscovered(path);
  assert.equal(first.length, 2);
  const a = first.find((m) => m.mac === A);
  assert.deepEqual(a, {
    mac: A, firstSeen: '2024-05-01T12:00:00.000Z', lastSeen: '2024-05-01T12:00:00.000Z', count: 2,
    vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 'BiosX86', userClass: 'iPXE', lastIp: '10.0.0.100',
  });

  // Right after a write, the next one waits out the rest of the interval.
  clock.advance(200);
  store.record({ mac: A });
  assert.equal(clock.pending(), 1);
  clock.advance(500);
  assert.equal(clock.pending(), 1, 'the write still waits for its interval');
  assert.equal((await readDiscovered(path)).find((m) => m.mac === A)?.count, 2, 'not yet written');
  clock.advance(300);
  await settle(store);
  const second = (await readDiscovered(path)).find((m) => m.mac === A);
  assert.equal(second?.count, 3);
  assert.equal(second?.lastSeen, '2024-05-01T12:00:01.200Z');
  assert.equal(second?.firstSeen, '2024-05-01T12:00:00.000Z');
});

test('the number of entries is capped by dropping the one seen longest ago', async (t) => {
  const path = join(await tempDir(t), 'discovered.json');
  const clock = fakeTime();
  const store = await DiscoveredStore.open({ path, now: clock.now, setTimer: clock.setTimer, maxEntries: 2 });
  store.record({ mac: A });
  clock.advance(10);
  store.record({ mac: B });
  clock.advance(10);
  store.record({ mac: A }); // A is now the most recent
  clock.advance(10);
  store.record({ mac: C });
  assert.deepEqual(store.list().map((m) => m.mac), [C, A]);
  await store.close();
  assert.deepEqual((await readDiscovered(path)).map((m) => m.mac).sort(), [A, C]);
});

test('the file is replaced atomically: no temp file is left and a reload sees every entry', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'discovered.json');
  const clock = fakeTime();
  const store = await DiscoveredStore.open({ path, now: clock.now, setTimer: clock.setTimer });
  store.record({ mac: A, arch: 'EfiX64' });
  clock.advance(5000);
  store.record({ mac: B });
  await store.close();
  assert.deepEqual(await readdir(dir), ['discovered.json']);
  assert.equal(JSON.parse(await readFile(path, 'utf8')).machines.length, 2);

  // A new server process carries on from the file: counts continue, order by last seen kept.
  const again = await DiscoveredStore.open({ path, now: clock.now, setTimer: clock.setTimer, maxEntries: 2 });
  clock.advance(1000);
  again.record({ mac: C });
  assert.deepEqual(again.list().map((m) => m.mac), [C, B], 'A, seen longest ago, was dropped');
  again.record({ mac: B });
  assert.equal(again.list().find((m) => m.mac === B)?.count, 2);
  await again.close();
});

test('machines that became inventory nodes are not listed', async (t) => {
  const path = join(await tempDir(t), 'discovered.json');
  const clock = fakeTime();
  const store = await DiscoveredStore.open({ path, now: clock.now, setTimer: clock.setTimer });
  store.record({ mac: A });
  store.record({ mac: B });
  const nodes = new Set([A]);
  assert.deepEqual(store.list((m) => nodes.has(m)).map((m) => m.mac), [B]);
  await store.close();
});

test('an unreadable file is started over instead of stopping the server', async (t) => {
  const path = join(await tempDir(t), 'discovered.json');
  await writeFile(path, '{ half a file');
  const store = await DiscoveredStore.open({ path });
  assert.deepEqual(store.list(), []);
  await assert.rejects(readDiscovered(path), /not JSON/);
  store.record({ mac: A });
  await store.close();
  assert.equal((await readDiscovered(path)).length, 1);
});
