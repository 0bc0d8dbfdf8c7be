import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../files/atomic-write.js';
import { LeaseStore, MAX_DECLINED } from './lease-store.js';

const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';

describe('LeaseStore', () => {
  let dir: string;
  let clock: number;
  const now = (): number => clock;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'diskless-leases-'));
    clock = Date.UTC(2026, 0, 1);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('holds an offer against other clients until it expires', () => {
    const store = new LeaseStore({ now });
    store.apply({ kind: 'offer', mac: A, ip: '10.0.0.100', holdSec: 60 });
    assert.equal(store.isAvailable('10.0.0.100', A), true);
    assert.equal(store.isAvailable('10.0.0.100', B), false);
    clock += 61_000;
    assert.equal(store.isAvailable('10.0.0.100', B), true);
  });

  it('keeps one address per client', () => {
    const store = new LeaseStore({ now });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 60 });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.101', leaseSec: 60 });
    assert.equal(store.leaseForIp('10.0.0.100'), undefined);
    assert.equal(store.leaseForMac(A)?.ip, '10.0.0.101');
  });

  it('does not turn a bound lease back into an offer', () => {
    const store = new LeaseStore({ now });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 3600 });
    store.apply({ kind: 'offer', mac: A, ip: '10.0.0.100', holdSec: 60 });
    assert.equal(store.leaseForMac(A)?.state, 'bound');
  });

  it('lets an expired lease be reused by another client', () => {
    const store = new LeaseStore({ now });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 10 });
    clock += 11_000;
    assert.equal(store.isAvailable('10.0.0.100', B), true);
    store.apply({ kind: 'bind', mac: B, ip: '10.0.0.100', leaseSec: 10 });
    assert.equal(store.leaseForMac(A), undefined);
  });

  it('release expires the lease but remembers the client', () => {
    const store = new LeaseStore({ now });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 3600 });
    store.apply({ kind: 'release', mac: B, ip: '10.0.0.100' });
    assert.equal(store.isAvailable('10.0.0.100', B), false, 'only the holder can release');
    store.apply({ kind: 'release', mac: A, ip: '10.0.0.100' });
    assert.equal(store.isAvailable('10.0.0.100', B), true);
    assert.equal(store.leaseForMac(A)?.ip, '10.0.0.100');
  });

  it('a declined address is unavailable to everyone, the decliner included', () => {
    const store = new LeaseStore({ now });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 3600 });
    store.apply({ kind: 'decline', mac: A, ip: '10.0.0.100', holdSec: 600 });
    assert.equal(store.isAvailable('10.0.0.100', A), false);
    assert.equal(store.isAvailable('10.0.0.100', B), false);
    assert.equal(store.leaseForMac(A), undefined);
  });

  it('cancel-offer drops only an offer', () => {
    const store = new LeaseStore({ now });
    store.apply({ kind: 'offer', mac: A, ip: '10.0.0.100', holdSec: 60 });
    store.apply({ kind: 'cancel-offer', mac: A });
    assert.equal(store.leaseForMac(A), undefined);
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 60 });
    store.apply({ kind: 'cancel-offer', mac: A });
    assert.equal(store.leaseForMac(A)?.state, 'bound');
  });

  it('persists bound leases, not offers or declines, and reloads them', async () => {
    const path = join(dir, 'state', 'leases.json');
    const store = new LeaseStore({ path, now });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 3600, hostname: 'n1' });
    store.apply({ kind: 'bind', mac: B, ip: '10.0.0.101', leaseSec: 3600 });
    store.apply({ kind: 'decline', mac: B, ip: '10.0.0.101', holdSec: 600 });
    store.apply({ kind: 'offer', mac: B, ip: '10.0.0.102', holdSec: 60 });
    await store.commit();
    const again = new LeaseStore({ path, now });
    assert.deepEqual(again.leaseForMac(A), { ip: '10.0.0.100', mac: A, state: 'bound', expiresAt: clock + 3_600_000, hostname: 'n1' });
    // The decline ended B's binding, and the decline itself lived in memory only.
    assert.equal(again.leaseForIp('10.0.0.101'), undefined);
    assert.equal(again.leaseForIp('10.0.0.102'), undefined);
    assert.deepEqual(readdirSync(join(dir, 'state')), ['leases.json'], 'no temp file left behind');
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).version, 1);
  });

  it("a declined entry in an older version's file is not honoured; its bound leases are", () => {
    const path = join(dir, 'leases.json');
    writeFileSync(path, JSON.stringify({
      version: 1,
      leases: [
        { ip: '10.0.0.100', mac: A, state: 'bound', expiresAt: new Date(clock + 3_600_000).toISOString() },
        { ip: '10.0.0.101', mac: B, state: 'declined', expiresAt: new Date(clock + 600_000).toISOString() },
      ],
    }));
    const store = new LeaseStore({ path, now });
    assert.equal(store.leaseForMac(A)?.ip, '10.0.0.100');
    assert.equal(store.isAvailable('10.0.0.101', A), true);
    assert.deepEqual(store.list().map((l) => l.state), ['bound']);
  });

  it("a decline takes only the decliner's own unexpired offer or lease", async () => {
    let writes = 0;
    const store = new LeaseStore({ path: join(dir, 'leases.json'), now, writeFile: async () => { writes++; } });
    store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 3600 });
    await store.commit();
    assert.equal(store.apply({ kind: 'decline', mac: B, ip: '10.0.0.100', holdSec: 600 }), false, "another client's lease");
    assert.equal(store.leaseForMac(A)?.state, 'bound');
    assert.equal(store.apply({ kind: 'decline', mac: B, ip: '10.0.0.105', holdSec: 600 }), false, "nobody's address");
    assert.equal(store.leaseForIp('10.0.0.105'), undefined);
    store.apply({ kind: 'offer', mac: B, ip: '10.0.0.101', holdSec: 60 });
    clock += 61_000;
    assert.equal(store.apply({ kind: 'decline', mac: B, ip: '10.0.0.101', holdSec: 600 }), false, 'an expired offer');
    assert.equal(store.isAvailable('10.0.0.101', A), true);
    await store.flush();
    assert.equal(writes, 1, 'a refused decline writes nothing');
  });

  it('a decline of an offer writes nothing; one that ends a binding writes the binding away', async () => {
    let writes = 0;
    const store = new LeaseStore({ path: join(dir, 'leases.json'), now, writeFile: async () => { writes++; } });
    store.apply({ kind: 'offer', mac: A, ip: '10.0.0.100', holdSec: 60 });
    assert.equal(store.apply({ kind: 'decline', mac: A, ip: '10.0.0.100', holdSec: 600 }), false);
    await store.flush();
    assert.equal(writes, 0);
    store.apply({ kind: 'bind', mac: B, ip: '10.0.0.101', leaseSec: 3600 });
    await store.commit();
    assert.equal(store.apply({ kind: 'decline', mac: B, ip: '10.0.0.101', holdSec: 600 }), true);
    await store.commit();
    assert.equal(writes, 2);
  });

  it(`holds at most ${MAX_DECLINED} declined addresses, dropping the oldest, each for its hold time`, () => {
    const store = new LeaseStore({ now });
    const ipOf = (i: number): string => `10.0.${i >> 8}.${i & 0xff}`;
    const macOf = (i: number): string => `52:54:00:01:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    const declines = MAX_DECLINED + 36;
    for (let i = 0; i < declines; i++) {
      store.apply({ kind: 'offer', mac: macOf(i), ip: ipOf(i), holdSec: 60 });
      store.apply({ kind: 'decline', mac: macOf(i), ip: ipOf(i), holdSec: 600 });
      clock += 1000;
    }
    const declined = store.list().filter((l) => l.state === 'declined').map((l) => l.ip);
    assert.equal(declined.length, MAX_DECLINED);
    assert.deepEqual(declined.sort(), Array.from({ length: MAX_DECLINED }, (_, k) => ipOf(declines - MAX_DECLINED + k)).sort(), 'the newest are kept');
    assert.equal(store.isAvailable(ipOf(0), A), true, 'the oldest is free again');
    assert.equal(store.isAvailable(ipOf(declines - 1), A), false);

    clock += 600_000;
    assert.equal(store.isAvailable(ipOf(declines - 1), A), true, 'the hold time ends every decline');
    store.apply({ kind: 'offer', mac: A, ip: '10.1.0.1', holdSec: 60 });
    store.apply({ kind: 'decline', mac: A, ip: '10.1.0.1', holdSec: 600 });
    assert.deepEqual(store.list().filter((l) => l.state === 'declined').map((l) => l.ip), ['10.1.0.1'], 'expired declines are dropped from memory');
  });

  it('starts empty when the file does not exist and refuses a corrupt one', () => {
    assert.deepEqual(new LeaseStore({ path: join(dir, 'none.json'), now }).list(), []);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"version": 1, "leases": [');
    assert.throws(() => new LeaseStore({ path: bad, now }), /Cannot load DHCP leases from .*bad\.json/);
  });

  describe('group commit', () => {
    const macOf = (i: number): string => `52:54:00:00:01:${i.toString(16).padStart(2, '0')}`;
    const ipOf = (i: number): string => `10.0.1.${i}`;
    const onDisk = (path: string): Map<string, string> => {
      const file = JSON.parse(readFileSync(path, 'utf8')) as { leases: Array<{ ip: string; mac: string }> };
      return new Map(file.leases.map((l) => [l.mac, l.ip]));
    };

    it('100 concurrent binds share a few writes, and each commit resolves only once its lease is in the file', async () => {
      const path = join(dir, 'leases.json');
      let writes = 0;
      // The real atomic write, slowed a little so later binds arrive while one is in flight.
      const writeFile = async (p: string, data: string): Promise<void> => {
        writes++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        await writeFileAtomic(p, data);
      };
      const store = new LeaseStore({ path, now, writeFile });
      const committed: Array<Promise<void>> = [];
      const missing: number[] = [];
      for (let i = 1; i <= 100; i++) {
        assert.equal(store.apply({ kind: 'bind', mac: macOf(i), ip: ipOf(i), leaseSec: 3600 }), true);
        // What the DHCP server does before sending the ACK: wait, then (here) check the file.
        committed.push(store.commit().then(() => {
          if (onDisk(path).get(macOf(i)) !== ipOf(i)) missing.push(i);
        }));
        // Requests arrive over several turns of the event loop, some while a write runs.
        if (i % 25 === 0) await new Promise((resolve) => setTimeout(resolve, 3));
      }
      await Promise.all(committed);
      assert.deepEqual(missing, [], 'every commit resolved after its lease was on disk');
      console.log(`group commit: ${writes} writes for 100 binds`);
      assert.ok(writes <= 10, `${writes} writes for 100 binds`);
      assert.equal(onDisk(path).size, 100);
      assert.deepEqual(readdirSync(dir), ['leases.json'], 'no temp file left behind');
    });

    it('offers and no-op changes schedule no write; commit() with nothing dirty resolves at once', async () => {
      let writes = 0;
      const store = new LeaseStore({ path: join(dir, 'leases.json'), now, writeFile: async () => { writes++; } });
      assert.equal(store.apply({ kind: 'offer', mac: A, ip: '10.0.0.100', holdSec: 60 }), false);
      assert.equal(store.apply({ kind: 'release', mac: B, ip: '10.0.0.100' }), false);
      assert.equal(store.apply({ kind: 'cancel-offer', mac: A }), false);
      await store.commit();
      await store.flush();
      assert.equal(writes, 0);
    });

    it('a failed write rejects its commits, keeps the table in memory, and the next change writes it all', async () => {
      const path = join(dir, 'leases.json');
      let failNext = true;
      let writes = 0;
      const writeFile = async (p: string, data: string): Promise<void> => {
        writes++;
        if (failNext) {
          failNext = false;
          throw new Error('ENOSPC: no space left on device');
        }
        await writeFileAtomic(p, data);
      };
      const store = new LeaseStore({ path, now, writeFile });
      store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 3600 });
      await assert.rejects(store.commit(), /ENOSPC/);
      assert.equal(store.leaseForMac(A)?.state, 'bound', 'the lease stays in memory');
      assert.equal(store.isAvailable('10.0.0.100', B), false);
      assert.equal(writes, 1, 'no write without a new change');

      store.apply({ kind: 'bind', mac: B, ip: '10.0.0.101', leaseSec: 3600 });
      await store.commit();
      assert.equal(writes, 2);
      assert.deepEqual([...onDisk(path)].sort(), [[A, '10.0.0.100'], [B, '10.0.0.101']], 'the retry carries the earlier lease too');
    });

    it('a decline nobody waits for still writes the binding it ended away, and a failure there is no unhandled rejection', async () => {
      const path = join(dir, 'leases.json');
      let fail = false;
      const store = new LeaseStore({ path, now, writeFile: async (p, d) => { if (fail) throw new Error('EIO'); await writeFileAtomic(p, d); } });
      store.apply({ kind: 'bind', mac: A, ip: '10.0.0.100', leaseSec: 3600 });
      store.apply({ kind: 'bind', mac: B, ip: '10.0.0.101', leaseSec: 3600 });
      await store.commit();
      fail = true;
      store.apply({ kind: 'decline', mac: A, ip: '10.0.0.100', holdSec: 600 });
      await store.flush();
      fail = false;
      store.apply({ kind: 'decline', mac: B, ip: '10.0.0.101', holdSec: 600 });
      await store.flush();
      const again = new LeaseStore({ path, now });
      assert.deepEqual(again.list(), []);
    });

    it('after a restart every acknowledged lease is read back', async () => {
      const path = join(dir, 'state', 'leases.json');
      const store = new LeaseStore({ path, now });
      const acked: number[] = [];
      await Promise.all(Array.from({ length: 100 }, (_, k) => {
        const i = k + 1;
        store.apply({ kind: 'bind', mac: macOf(i), ip: ipOf(i), leaseSec: 3600, hostname: `n${i}` });
        return store.commit().then(() => { acked.push(i); });
      }));
      assert.equal(acked.length, 100);
      const again = new LeaseStore({ path, now });
      for (const i of acked) {
        assert.deepEqual(again.leaseForMac(macOf(i)), { ip: ipOf(i), mac: macOf(i), state: 'bound', expiresAt: clock + 3_600_000, hostname: `n${i}` });
      }
    });
  });
});
