import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advance, active, batchCount, newRollout, planWaves, settled, type PlannedNode, type Rollout, type RolloutAction, type RolloutInput, type RolloutSpec } from './plan.js';

const OLD = '1111111111111111';
const NEW = '2222222222222222';
const spec = (o: Partial<RolloutSpec> = {}): RolloutSpec => ({ image: 'deb', version: NEW, canary: 1, batch: { count: 1 }, maxFailed: 0, timeoutSec: 600, ...o });
const nodes = (n: number): PlannedNode[] =>
  Array.from({ length: n }, (_, i) => ({ mac: `52:54:00:00:00:0${i + 1}`, name: `n${i + 1}`, previousPin: null, previousVersion: OLD }));
const mac = (i: number) => `52:54:00:00:00:0${i}`;

/** Drives a rollout with a clock and an event seq that move forward with each input. */
class Drive {
  now = 1_000_000;
  seq = 100;
  actions: RolloutAction[] = [];
  constructor(public r: Rollout) {}
  feed(input: RolloutInput, o: { dt?: number; where?: string } = {}): RolloutAction[] {
    this.now += o.dt ?? 1000;
    const step = advance(this.r, input, { now: this.now, seq: this.seq, ...(o.where ? { whereIs: () => o.where } : {}) });
    this.r = step.rollout;
    this.actions.push(...step.actions);
    return step.actions;
  }
  /** The node's next boot (started after the reboot) reached "booted". */
  boot(i: number, version: string): RolloutAction[] {
    this.seq += 10;
    return this.feed({ kind: 'booted', mac: mac(i), bootSeq: this.seq - 5, version });
  }
  fail(i: number, stage: string, cause: string): RolloutAction[] {
    this.seq += 10;
    return this.feed({ kind: 'failed', mac: mac(i), bootSeq: this.seq - 5, stage, cause });
  }
  status(i: number) {
    return this.r.nodes.find((n) => n.mac === mac(i))!.status;
  }
}

const pins = (a: RolloutAction[]) => a.filter((x) => x.kind === 'pin').map((x) => (x.kind === 'pin' ? `${x.mac.slice(-1)}=${x.version}` : ''));
const reboots = (a: RolloutAction[]) => a.filter((x) => x.kind === 'reboot').map((x) => (x.kind === 'reboot' ? x.mac.slice(-1) : ''));

test('batches: counts, percentages rounded up, at least one node', () => {
  assert.equal(batchCount({ count: 3 }, 10), 3);
  assert.equal(batchCount({ percent: 25 }, 10), 3);
  assert.equal(batchCount({ percent: 50 }, 200), 100);
  assert.equal(batchCount({ percent: 1 }, 10), 1);
  assert.equal(batchCount({ count: 0 }, 10), 1);
  assert.deepEqual(planWaves(5, 1, { count: 2 }), [0, 1, 1, 2, 2]);
  assert.deepEqual(planWaves(10, 2, { percent: 50 }), [0, 0, 1, 1, 1, 1, 1, 2, 2, 2]);
  assert.deepEqual(planWaves(2, 5, { count: 1 }), [0, 0]);
  assert.deepEqual(planWaves(3, 0, { count: 3 }), [1, 1, 1]);
});

test('a good version: the canary first, then batch by batch, each waiting for the last; then finish', () => {
  const d = new Drive(newRollout('r1', spec(), nodes(3), 0, true));
  let a = d.feed({ kind: 'tick' });
  assert.deepEqual(pins(a), [`1=${NEW}`]);
  assert.deepEqual(reboots(a), ['1']);
  assert.equal(d.status(2), 'pending');
  // Nothing moves while the canary boots.
  assert.deepEqual(pins(d.feed({ kind: 'tick' })), []);
  a = d.boot(1, NEW);
  assert.equal(d.status(1), 'done');
  assert.deepEqual(pins(a), [`2=${NEW}`]);
  a = d.boot(2, NEW);
  assert.deepEqual(pins(a), [`3=${NEW}`]);
  a = d.boot(3, NEW);
  assert.equal(d.r.status, 'completed');
  assert.ok(a.some((x) => x.kind === 'finish'));
  assert.ok(!active(d.r));
});

test('no finish (publish) when the rollout covers only some of the image nodes', () => {
  const d = new Drive(newRollout('r1', spec({ canary: 0, batch: { count: 2 } }), nodes(2), 0, false));
  assert.deepEqual(reboots(d.feed({ kind: 'tick' })), ['1', '2']);
  d.boot(1, NEW);
  const a = d.boot(2, NEW);
  assert.equal(d.r.status, 'completed');
  assert.ok(!a.some((x) => x.kind === 'finish'));
});

test('the canary fails: the rollout stops, the canary is pinned back and rebooted, the others never see the new version', () => {
  const d = new Drive(newRollout('r1', spec({ maxFailed: 5 }), nodes(3), 0, true));
  d.feed({ kind: 'tick' });
  const a = d.fail(1, 'root', 'sha256 mismatch for root.sqfs');
  assert.equal(d.r.status, 'stopped');
  assert.match(d.r.message!, /canary n1 failed in stage root: sha256 mismatch/);
  assert.deepEqual(pins(a), ['1=null']);
  assert.deepEqual(reboots(a), ['1']);
  assert.equal(d.status(1), 'rolling-back');
  assert.equal(d.status(2), 'skipped');
  assert.equal(d.status(3), 'skipped');
  assert.ok(active(d.r), 'still watching the rollback');
  d.boot(1, OLD);
  assert.equal(d.status(1), 'rolled-back');
  assert.deepEqual(d.r.nodes[0]!.failure, { stage: 'root', cause: 'sha256 mismatch for root.sqfs' });
  assert.ok(!active(d.r));
  assert.ok(!d.actions.some((x) => x.kind === 'pin' && x.mac !== mac(1)), 'no other node was pinned');
  assert.ok(!d.actions.some((x) => x.kind === 'finish'));
});

test('a node pinned before goes back to its own pin, not the published version', () => {
  const planned = nodes(1).map((n) => ({ ...n, previousPin: OLD }));
  const d = new Drive(newRollout('r1', spec(), planned, 0, true));
  d.feed({ kind: 'tick' });
  assert.deepEqual(pins(d.fail(1, 'network', 'no DHCP lease')), [`1=${OLD}`]);
});

test('max-failed: failures up to it go back one by one and the rollout goes on; one more stops it', () => {
  const d = new Drive(newRollout('r1', spec({ batch: { count: 2 }, maxFailed: 1 }), nodes(6), 0, true));
  d.feed({ kind: 'tick' });
  d.boot(1, NEW); // batch 1: n2, n3
  let a = d.fail(2, 'root', 'bad');
  assert.equal(d.r.status, 'running');
  assert.deepEqual(pins(a), ['2=null']);
  a = d.boot(3, NEW); // batch 1 settled (n2 rolling back does not hold the next batch)
  assert.deepEqual(reboots(a), ['4', '5']);
  a = d.fail(4, 'overlay', 'no space');
  assert.equal(d.r.status, 'stopped');
  assert.match(d.r.message!, /2 node\(s\) failed, more than --max-failed 1; last: n4 in stage overlay: no space; 1 node\(s\) never moved/);
  // n5, in flight when it stopped, is still watched and kept on the new version when it boots.
  d.boot(5, NEW);
  assert.equal(d.status(5), 'done');
  assert.equal(d.status(6), 'skipped');
  d.boot(2, OLD);
  d.boot(4, OLD);
  assert.ok(!active(d.r));
});

test('a timeout is a failure that says where the boot was last seen', () => {
  const d = new Drive(newRollout('r1', spec({ timeoutSec: 60 }), nodes(2), 0, true));
  d.feed({ kind: 'tick' });
  d.feed({ kind: 'tick' }, { dt: 30_000, where: 'root (running)' });
  assert.equal(d.status(1), 'waiting');
  d.feed({ kind: 'tick' }, { dt: 31_000, where: 'root (running)' });
  assert.equal(d.status(1), 'rolling-back');
  assert.deepEqual(d.r.nodes[0]!.failure, { stage: 'timeout', cause: 'not booted within 60 s (last seen: root (running))' });
  assert.equal(d.r.status, 'stopped');
  // The rollback has its own deadline.
  d.feed({ kind: 'tick' }, { dt: 61_000 });
  assert.equal(d.status(1), 'rollback-failed');
  assert.match(d.r.nodes[0]!.rollbackFailure!.cause, /no boot seen/);
  assert.ok(settled(d.r));
});

test('only boots started after the reboot count; a boot of another version is a failure', () => {
  const d = new Drive(newRollout('r1', spec(), nodes(2), 0, true));
  d.feed({ kind: 'tick' });
  // A boot that began before the pin (seq 50 < 100) says nothing about the new version.
  d.feed({ kind: 'booted', mac: mac(1), bootSeq: 50, version: OLD });
  d.feed({ kind: 'failed', mac: mac(1), bootSeq: 60, stage: 'root', cause: 'old failure' });
  assert.equal(d.status(1), 'waiting');
  d.boot(1, OLD);
  assert.equal(d.status(1), 'rolling-back');
  assert.match(d.r.nodes[0]!.failure!.cause, /booted 1111111111111111, not 2222222222222222/);
});

test('a BMC that refuses the power cycle fails the node in stage power', () => {
  const d = new Drive(newRollout('r1', spec(), nodes(2), 0, true));
  d.feed({ kind: 'tick' });
  d.feed({ kind: 'reboot-failed', mac: mac(1), cause: 'ipmitool: Unable to establish IPMI v2 / RMCP+ session' });
  assert.deepEqual(d.r.nodes[0]!.failure, { stage: 'power', cause: 'ipmitool: Unable to establish IPMI v2 / RMCP+ session' });
  assert.equal(d.r.status, 'stopped');
});

test('pause holds the next batch but keeps watching; resume starts it', () => {
  const d = new Drive(newRollout('r1', spec(), nodes(3), 0, true));
  d.feed({ kind: 'tick' });
  d.feed({ kind: 'pause' });
  assert.equal(d.r.status, 'paused');
  const a = d.boot(1, NEW);
  assert.equal(d.status(1), 'done');
  assert.deepEqual(pins(a), []);
  assert.deepEqual(pins(d.feed({ kind: 'tick' })), []);
  assert.deepEqual(pins(d.feed({ kind: 'resume' })), [`2=${NEW}`]);
  assert.equal(d.r.status, 'running');
  // A failure while paused still goes back and stops it.
  d.feed({ kind: 'pause' });
  d.fail(2, 'root', 'bad');
  assert.equal(d.r.status, 'stopped');
  assert.deepEqual(pins(d.feed({ kind: 'resume' })), [], 'a stopped rollout does not resume');
});

test('abort: nothing more is moved, nodes in flight are still watched', () => {
  const d = new Drive(newRollout('r1', spec({ canary: 2 }), nodes(4), 0, true));
  d.feed({ kind: 'tick' });
  d.boot(1, NEW);
  d.feed({ kind: 'abort' });
  assert.equal(d.r.status, 'aborted');
  assert.deepEqual([3, 4].map((i) => d.status(i)), ['skipped', 'skipped']);
  assert.ok(active(d.r), 'n2 is still in flight');
  d.fail(2, 'identity', 'token refused');
  assert.equal(d.status(2), 'rolling-back', 'a failure is still sent back');
  assert.equal(d.r.status, 'aborted');
  d.boot(2, OLD);
  assert.ok(!active(d.r));
  assert.ok(!d.actions.some((x) => x.kind === 'pin' && (x.mac === mac(3) || x.mac === mac(4))));
});

test('a restart mid-batch: the state survives JSON, deadlines stay absolute, the batch goes on', () => {
  const d = new Drive(newRollout('r1', spec({ batch: { percent: 50 }, timeoutSec: 100 }), nodes(5), 0, true));
  d.feed({ kind: 'tick' });
  d.boot(1, NEW);
  // 50% of 5 nodes is 3 per batch.
  assert.deepEqual(reboots(d.actions), ['1', '2', '3', '4']);
  d.boot(2, NEW);
  // The server stops here and reads its state back.
  const again = new Drive(JSON.parse(JSON.stringify(d.r)) as Rollout);
  again.now = d.now;
  again.seq = d.seq;
  assert.deepEqual(pins(again.feed({ kind: 'tick' })), [], 'nothing is moved twice');
  assert.equal(again.status(3), 'waiting');
  assert.deepEqual(reboots(again.boot(3, NEW)), []);
  assert.deepEqual(reboots(again.boot(4, NEW)), ['5']);
  again.feed({ kind: 'tick' }, { dt: 200_000 });
  assert.equal(again.status(5), 'rolling-back');
  assert.equal(again.r.status, 'stopped');
});

test('--canary 0 starts with the first batch; an empty rollout completes at once', () => {
  const d = new Drive(newRollout('r1', spec({ canary: 0, batch: { count: 2 } }), nodes(3), 0, true));
  assert.deepEqual(reboots(d.feed({ kind: 'tick' })), ['1', '2']);
  const e = new Drive(newRollout('r2', spec(), [], 0, true));
  e.feed({ kind: 'tick' });
  assert.equal(e.r.status, 'completed');
});

test('events name every step', () => {
  const d = new Drive(newRollout('r1', spec(), nodes(2), 0, true));
  d.feed({ kind: 'tick' });
  d.fail(1, 'root', 'bad');
  d.boot(1, OLD);
  const names = d.actions.filter((a) => a.kind === 'event').map((a) => (a.kind === 'event' ? a.name : ''));
  assert.deepEqual(names, ['wave', 'node-failed', 'node-rollback', 'stopped', 'node-rolled-back']);
});
