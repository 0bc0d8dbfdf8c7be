import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LEASE_KEEPER_CLASS, MAX_STEPS_PER_BOOT, NodeStates, reduceNode, type NodeState } from './node-state.js';
import { bootTimeline, type TimelineEntry } from './boot-timeline.js';
import type { BootEvent } from './boot-event.js';
import { BootScript, IP, MAC, T0, VERSION } from './testdata/boot-sequences.js';

function replay(events: readonly BootEvent[]): NodeState {
  let s: NodeState | undefined;
  for (const e of events) s = reduceNode(s, e);
  assert.ok(s);
  return s;
}

/** Timeline rows with times relative to T0, so the goldens read like the script. */
function relative(rows: TimelineEntry[]) {
  return rows.map((r) => [r.name, r.status, r.start === undefined ? null : r.start - T0, r.end === undefined ? null : r.end - T0, r.durationMs ?? null]);
}

/** A BIOS node booting image debian over live HTTP, as initramfs/init reports it. */
function successfulBoot(): BootScript {
  return new BootScript()
    .at(0)
    .firmwareToKernel()
    .at(4000).dhcp() // udhcpc in the network stage: no boot file, same boot
    .at(4100).report('network', 'ok', 'duration_ms=1500', 2300)
    .at(4200).http(`/store/debian/${VERSION}/root.sqfs`, 200_000_000, 3000)
    .at(7250).report('fetched', 'ok', 'bytes=200000000 duration_ms=3050', 5450)
    .at(7900).report('verified', 'ok', `sha256=${'ab'.repeat(32)}`, 6100)
    .at(7950).report('root', 'ok', 'duration_ms=3800', 6150)
    .at(8000).report('overlay', 'ok', 'duration_ms=20', 6200)
    .at(8100).report('handoff', 'ok', 'duration_ms=80', 6290)
    .at(8150).report('switch_root', 'ok', 'init=/sbin/init', 6320)
    .at(9000).dhcp() // the real system's DHCP client: no boot file, same boot
    .at(15000).report('booted', 'ok', '', 13_100);
}

test('golden: a live boot from firmware DHCP to the booted report', () => {
  const s = replay(successfulBoot().events);
  assert.equal(s.phase, 'booted');
  assert.equal(s.bootCount, 1);
  assert.equal(s.ip, IP);
  assert.equal(s.stage, undefined);
  assert.deepEqual(s.booted, { at: T0 + 15000, image: 'debian', version: VERSION });
  assert.deepEqual(s.boot?.image, { name: 'debian', version: VERSION });
  assert.equal(s.boot?.startedAt, T0);
  assert.equal(s.boot?.kernelStartAt, T0 + 1800);
  assert.deepEqual(relative(bootTimeline(s.boot!)), [
    ['dhcp', 'ok', 0, 20, 20],
    ['load', 'ok', 20, 1800, 1780],
    ['network', 'ok', 2600, 4100, 1500],
    ['fetched', 'ok', 4200, 7250, 3050],
    ['verified', 'ok', 7250, 7900, 650],
    ['root', 'ok', 4150, 7950, 3800],
    ['overlay', 'ok', 7980, 8000, 20],
    ['handoff', 'ok', 8010, 8090, 80],
    ['switch_root', 'ok', 8090, 8120, 30],
    ['booted', 'ok', 8120, 14900, 6780],
  ]);
});

test('golden: a boot that fails in the root stage with a sha256 mismatch', () => {
  const script = new BootScript()
    .at(0)
    .firmwareToKernel()
    .at(4100).report('network', 'ok', 'duration_ms=1500', 2300)
    .at(4200).http(`/store/debian/${VERSION}/root.sqfs`, 200_000_000, 3000)
    .at(7250).report('fetched', 'ok', 'bytes=200000000 duration_ms=3050', 5450)
    .at(7400).report('root', 'failed', 'sha256 mismatch', 5600);
  const s = replay(script.events);
  assert.equal(s.phase, 'failed');
  assert.equal(s.stage, 'root');
  assert.equal(s.cause, 'sha256 mismatch');
  assert.deepEqual(s.boot?.failure, { stage: 'root', cause: 'sha256 mismatch' });
  assert.equal(s.boot?.endedAt, T0 + 7400);
  assert.equal(s.booted, undefined);
  assert.deepEqual(relative(bootTimeline(s.boot!)), [
    ['dhcp', 'ok', 0, 20, 20],
    ['load', 'ok', 20, 1800, 1780],
    ['network', 'ok', 2600, 4100, 1500],
    ['fetched', 'ok', 4200, 7250, 3050],
    ['root', 'failed', 7250, 7400, 150],
  ]);

  // The admin fixes the image and power-cycles: the firmware's DISCOVER begins boot 2.
  script.at(60_000).dhcp('undionly.kpxe');
  const again = replay(script.events);
  assert.equal(again.bootCount, 2);
  assert.equal(again.phase, 'dhcp');
  assert.equal(again.stage, undefined);
  assert.equal(again.cause, undefined);
  assert.equal(again.boot?.startedAt, T0 + 60_000);
  assert.deepEqual(relative(bootTimeline(again.boot!)), [['dhcp', 'running', 60_000, null, null]]);
});

test('a reset during the initramfs starts a new boot at the firmware DISCOVER, not at its reply', () => {
  const script = new BootScript()
    .at(0)
    .firmwareToKernel()
    .at(4100).report('network', 'ok', 'duration_ms=1500', 2300)
    .at(5000).report('root', 'retry', 'NBD refused', 3200);
  const stuck = replay(script.events);
  assert.equal(stuck.phase, 'initramfs');
  assert.equal(stuck.stage, 'root');
  script.at(30_000).dhcp('undionly.kpxe');
  const s = replay(script.events);
  assert.equal(s.bootCount, 2);
  assert.equal(s.boot?.startedAt, T0 + 30_000);
  assert.equal(s.boot?.startSeq, script.events.length - 3);
});

test('lease renewals of a booted system start no boot; a DISCOVER after it does', () => {
  const script = successfulBoot().at(3_600_000).renew();
  assert.equal(replay(script.events).bootCount, 1);
  assert.equal(replay(script.events).phase, 'booted');
  script.at(7_200_000).dhcp();
  assert.equal(replay(script.events).bootCount, 2);
});

test('the booted root\'s lease keeper asking anew (its DISCOVER) keeps the node booted; a power cycle then starts the next boot', () => {
  const script = successfulBoot().at(20_000).dhcp(undefined, LEASE_KEEPER_CLASS);
  const kept = replay(script.events);
  assert.equal(kept.phase, 'booted');
  assert.equal(kept.bootCount, 1);
  assert.equal(kept.ip, IP);
  const firmwareDiscover = script.events.length + 1;
  script.at(60_000).firmwareToKernel();
  const s = replay(script.events);
  assert.equal(s.bootCount, 2);
  assert.equal(s.boot?.startSeq, firmwareDiscover);
  assert.equal(s.phase, 'loading');
});

test('the lease keeper\'s vendor class is the one the initrd\'s keeper sends', () => {
  const keeper = readFileSync('initramfs/lib/diskless/lease-keeper.sh', 'utf8');
  assert.match(keeper, new RegExp(`udhcpc .*-V ${LEASE_KEEPER_CLASS} `));
});

test('a booted system\'s own DHCP client, then a power cycle: the firmware\'s exchange starts the new boot, at its DISCOVER', () => {
  // The initrd's lease keeper asks anew (a DISCOVER) once the system is up: no boot file.
  const script = successfulBoot().at(20_000).dhcp();
  assert.equal(replay(script.events).phase, 'dhcp');
  const keeperSeq = replay(script.events).boot!.startSeq;
  const firmwareDiscover = script.events.length + 1;
  script.at(60_000).firmwareToKernel();
  const s = replay(script.events);
  assert.equal(s.boot?.startSeq, firmwareDiscover, `not the keeper's exchange (seq ${keeperSeq})`);
  assert.equal(s.boot?.startedAt, T0 + 60_000);
  assert.equal(s.boot?.image?.version, VERSION);
  assert.equal(s.bootCount, 3);
});

test('without our DHCP a boot starts at the first report, at the node’s kernel start', () => {
  const script = new BootScript()
    .at(10_000).report('network', 'ok', 'duration_ms=900', 2000)
    .at(12_000).report('root', 'ok', 'duration_ms=1500', 3900);
  const s = replay(script.events);
  assert.equal(s.bootCount, 1);
  assert.equal(s.boot?.startedBy, 'report');
  assert.equal(s.boot?.startedAt, T0 + 8000);
  assert.equal(s.stage, 'overlay');
  // The same stage again means the machine rebooted.
  script.at(100_000).report('network', 'ok', 'duration_ms=900', 2100);
  assert.equal(replay(script.events).bootCount, 2);
});

test('a machine that only asks and gets no boot file is discovered, not booting', () => {
  const events: BootEvent[] = [
    { seq: 1, time: T0, mac: MAC, kind: 'dhcp', name: 'drop', detail: 'unknown client', fields: { xid: '0x1', reason: 'unknown client' } },
  ];
  const s = replay(events);
  assert.equal(s.phase, 'discovered');
  assert.equal(s.bootCount, 0);
});

test('NodeStates reports boot transitions once each', () => {
  const states = new NodeStates();
  const transitions = successfulBoot().events.map((e) => states.apply(e));
  assert.equal(transitions.filter((t) => t.started).length, 1);
  assert.equal(transitions.filter((t) => t.booted).length, 1);
  assert.equal(transitions.filter((t) => t.failedStage).length, 0);
  assert.equal(states.get(MAC)?.phase, 'booted');
  assert.equal(states.all().length, 1);
});

test('states of machines outside the inventory are capped: the one seen longest ago goes, nodes never do', () => {
  const node = '52:54:00:00:00:01';
  const states = new NodeStates({ isListed: (mac) => mac === node, maxUnlisted: 100 });
  const stranger = (i: number) => `02:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
  let seq = 0;
  const seen = (mac: string) => states.apply({ seq: ++seq, time: seq, mac, kind: 'dhcp', name: 'discover', detail: '', fields: {} });
  seen(node);
  for (let i = 0; i < 50_000; i++) {
    seen(stranger(i % 60_000));
    // Stranger 0 keeps coming back: it is never the one seen longest ago.
    if (i % 50 === 0) seen(stranger(0));
  }
  assert.equal(states.size, 101, 'the node and 100 strangers');
  assert.ok(states.get(node), 'an inventory node outlives any flood');
  assert.ok(states.get(stranger(0)), 'recently seen');
  assert.ok(states.get(stranger(49_999)), 'the newest');
  assert.equal(states.get(stranger(1)), undefined, 'seen longest ago');
  assert.equal(states.evicted, 50_000 - 100);
});

test('a boot keeps a bounded number of steps however many stage names reports invent', () => {
  const states = new NodeStates();
  let seq = 0;
  const words = (i: number) => i.toString(26).replace(/./g, (c) => String.fromCharCode(97 + parseInt(c, 26)));
  for (let i = 0; i < 20_000; i++) states.apply({ seq: ++seq, time: seq, mac: MAC, kind: 'stage', name: `s_${words(i)}`, detail: '', fields: { status: 'started' } });
  assert.equal(states.get(MAC)?.bootCount, 1);
  assert.equal(states.get(MAC)?.boot?.stages.length, MAX_STEPS_PER_BOOT);
  // A known stage that already has its row still updates it.
  states.apply({ seq: ++seq, time: seq, mac: MAC, kind: 'failed', name: 's_a', detail: 'disk on fire', fields: { status: 'failed' } });
  assert.deepEqual([states.get(MAC)?.phase, states.get(MAC)?.cause, states.get(MAC)?.boot?.stages[0]?.status], ['failed', 'disk on fire', 'failed']);
});

test('proven reports: a boot is keyed by its first proof of a key redeemed in it; a proof of an earlier boot proves nothing', () => {
  // The node redeems its token at T0+8050 (identity stage) and proves every report after it.
  const proven = (until: number) => new BootScript()
    .at(0).firmwareToKernel()
    .at(7950).report('root', 'ok', 'duration_ms=3800', 6150)
    .at(8000).report('overlay', 'ok', 'duration_ms=20', 6200)
    .at(8060).report('identity', 'ok', 'duration_ms=40', 6250, {}, T0 + 8050)
    .at(8150).report('switch_root', 'ok', 'init=/sbin/init', 6320, {}, T0 + 8050)
    .at(until).report('booted', 'ok', '', 13_100, {}, T0 + 8050);
  const ok = replay(proven(15000).events);
  assert.equal(ok.boot?.keyedAt, T0 + 8050);
  assert.equal(ok.boot?.endProven, true);

  // The same boot ended by an unproven "booted" (a host spoofing the MAC): keyed, but the end is not proven.
  const forged = replay(new BootScript()
    .at(0).firmwareToKernel()
    .at(8060).report('identity', 'ok', 'duration_ms=40', 6250, {}, T0 + 8050)
    .at(9000).report('booted', 'ok', '', 7000).events);
  assert.equal(forged.phase, 'booted');
  assert.equal(forged.boot?.keyedAt, T0 + 8050);
  assert.equal(forged.boot?.endProven, undefined);

  // A recording of the previous boot's proven "booted", replayed during the next boot: its key
  // was redeemed before this boot began, so neither keyed nor proven.
  const first = proven(15000).events;
  const next = new BootScript().at(60_000).firmwareToKernel().at(70_000).report('booted', 'ok', '', 13_100, {}, T0 + 8050).events;
  const replayed = replay([...first, ...next.map((e, i) => ({ ...e, seq: first.length + i + 1 }))]);
  assert.equal(replayed.bootCount, 2);
  assert.equal(replayed.phase, 'booted');
  assert.equal(replayed.boot?.keyedAt, undefined);
  assert.equal(replayed.boot?.endProven, undefined);

  // A failure before the identity stage cannot be proven: the boot is not keyed.
  const early = replay(new BootScript().at(0).firmwareToKernel().at(7000).report('root', 'failed', 'sha256 mismatch', 5000).events);
  assert.equal(early.phase, 'failed');
  assert.equal(early.boot?.keyedAt, undefined);
});

/** `events` marked as recorded by `server` (what a shared database's events carry). */
function by(server: string, events: readonly BootEvent[]): BootEvent[] {
  return events.map((e) => ({ ...e, fields: { ...e.fields, server } }));
}

/** `events` applied in this arrival order (renumbered as a store would), the final state. */
function arrive(events: readonly BootEvent[]): NodeState {
  const states = new NodeStates();
  events.forEach((e, i) => states.apply({ ...e, seq: i + 1 }));
  const s = states.get(MAC);
  assert.ok(s);
  return s;
}

const withoutSeq = (s: NodeState) => JSON.parse(JSON.stringify(s, (k, v: unknown) => (k === 'seq' || k === 'startSeq' ? undefined : v))) as unknown;

test("a peer's events arriving late take their place by their own time: the node's state does not move back", () => {
  const all = by('10.77.0.1', successfulBoot().events);
  const inOrder = arrive(all);
  assert.equal(inOrder.phase, 'booted');
  assert.equal(inOrder.bootCount, 1);

  // iPXE's DHCP exchange (a boot-file OFFER and ACK) was answered by server B, whose events
  // reach this server after the node already reported booted through A.
  const ipxe = all.findIndex((e) => e.kind === 'dhcp' && e.name === 'discover' && e.time > T0 + 100);
  const late = by('10.77.0.2', all.slice(ipxe, ipxe + 4));
  const lateDhcp = arrive([...all.slice(0, ipxe), ...all.slice(ipxe + 4), ...late]);
  assert.equal(lateDhcp.phase, 'booted', 'a late boot-file ACK starts no new boot');
  assert.equal(lateDhcp.bootCount, 1);
  assert.deepEqual(withoutSeq(lateDhcp), withoutSeq(arrive([...all.slice(0, ipxe), ...late, ...all.slice(ipxe + 4)])));

  // A stage report B took arrives after later ones A took: the same boot, every step in it.
  const network = all.findIndex((e) => e.kind === 'stage' && e.name === 'network');
  const root = all.findIndex((e) => e.kind === 'stage' && e.name === 'root');
  const lateReport = [...all.slice(0, network), ...all.slice(network + 1, root + 1), ...by('10.77.0.2', [all[network]!])];
  const s = arrive(lateReport);
  assert.equal(s.phase, 'initramfs');
  assert.equal(s.stage, 'overlay', 'the stage after root is running, not the one after network');
  assert.deepEqual(s.boot?.stages.map((st) => st.name), ['network', 'fetched', 'verified', 'root']);
});

test("one server's own events keep their arrival order (a clock set back), and a peer's event older than the whole window changes nothing", () => {
  const all = by('10.77.0.1', successfulBoot().events);
  const booted = all[all.length - 1]!;
  // The booted report stamped earlier than the events before it (the clock was stepped back).
  const stepped = arrive([...all.slice(0, -1), { ...booted, time: T0 + 100 }]);
  assert.equal(stepped.phase, 'booted');

  // A peer's boot-file OFFER from the firmware's exchange, after more than a window of newer events.
  const offer = by('10.77.0.2', [all.find((e) => e.kind === 'dhcp' && e.name === 'offer')!])[0]!;
  const renewals = by('10.77.0.1', new BootScript().at(20_000).renew().renew().renew().renew().renew().renew().renew().renew().renew().events);
  assert.ok(renewals.length > 16);
  const s = arrive([...all, ...renewals, offer]);
  assert.equal(s.phase, 'booted');
  assert.equal(s.bootCount, 1);
});

test('two servers answering one DHCP exchange: their copies of the DISCOVER and their boot-file OFFERs are one boot', () => {
  const all = by('10.77.0.1', successfulBoot().events);
  const [discover, offer] = all as [BootEvent, BootEvent];
  assert.equal(discover.name, 'discover');
  assert.equal(offer.name, 'offer');
  // Both servers hear the firmware's DISCOVER and each offers its own boot file; B's copy of the
  // DISCOVER is the older one, A's arrives before B's OFFER (as seen in the two-server lab).
  const fromB = by('10.77.0.2', [discover, offer]);
  const s = arrive([
    { ...fromB[0]!, time: discover.time - 12 },
    discover,
    { ...fromB[1]!, time: discover.time + 2 },
    ...all.slice(1),
  ]);
  assert.equal(s.phase, 'booted');
  assert.equal(s.bootCount, 1, 'one boot');
  assert.equal(s.boot?.startedAt, discover.time - 12, 'it began with the first DISCOVER heard');
});
