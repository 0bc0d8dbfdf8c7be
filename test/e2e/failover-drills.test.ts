// Failover drills: two `diskless serve` (10.77.0.1 in the lab's namespace, 10.77.0.2 on the
// foreign host's) keep their state in one real PostgreSQL (a child of this test) and both
// answer DHCP on the one bridge. The server a node boots from is whichever DHCP answer its
// firmware took: the test reads it off the console (the URL iPXE fetches the kernel from) and
// calls it A. A is killed with SIGKILL and not brought back within the drill; the node goes on
// through the other one, B:
//  (a) lab1 (NBD root): A killed while iPXE downloads the kernel: the boot script's `||` takes
//      the kernel and initrd from B, /init attaches the root from B, lab1 reaches its login;
//  (b) lab2 (live root), started once A is back: its A killed while /init downloads the root
//      into RAM: /init fetches it from B, lab2 reaches its login;
//  (c) lab1's NBD server killed under the running root, a read of blocks the node never cached
//      under way: the keeper reconnects to the other server and the read completes with the
//      image's own bytes; then the killed one is restarted and the one serving is killed: the
//      keeper walks back to the restarted server (a restarted server takes its NBD clients back).
// After each drill the node's timeline, rebuilt from the events in the database, is one boot,
// whole from DHCP through booted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { DebianLab, PEER_SERVER, type LabNode } from '../../src/lab/debian-lab.js';
import { LAB_ADMIN_URL, LAB_SERVER } from '../../src/lab/tiny-lab.js';
import { startTestCluster, type TestCluster } from '../../src/testing/postgres-cluster.js';
import { stateUrl } from '../../src/testing/shared-servers.js';
import { NodeStates } from '../../src/events/node-state.js';
import { bootTimeline } from '../../src/events/boot-timeline.js';
import type { BootEvent } from '../../src/events/boot-event.js';
import type { ServerList } from '../../src/api/wire.js';
import { run } from '../../src/process/run.js';
import type { LabNetwork } from '../../src/lab/netns.js';

const MINUTES = 60_000;
type Line = Record<string, unknown>;
const SERVERS = [LAB_SERVER, PEER_SERVER];
const other = (address: string) => SERVERS.find((s) => s !== address)!;

/** Directories of the image the boot never reads (perl modules, iconv modules). */
const UNREAD = ['usr/lib/x86_64-linux-gnu/perl-base', 'usr/lib/x86_64-linux-gnu/gconv'];
/** One digest over every file's md5sum, in C-locale order: the same text on node and host. */
const DIGEST_CMD = `cd / && find ${UNREAD.join(' ')} -type f | LC_ALL=C sort | xargs md5sum | md5sum | cut -d' ' -f1`;
/** Every row a whole boot's timeline has, from the firmware's DHCP to the booted report. */
const WHOLE_BOOT = ['dhcp', 'load', 'cmdline', 'modules', 'network', 'root', 'overlay', 'identity', 'handoff', 'booted'];

/** Polls `check` every half second until it gives a value; fails naming `what` at the deadline. */
async function until<T>(what: string, check: () => Promise<T | undefined | false>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms / 1000} s waiting for ${what}`);
    await sleep(500);
  }
}

/** The live servers as the server at `address` sees them (its admin API, inside its namespace). */
async function liveSeenBy(net: LabNetwork, address: string): Promise<string[]> {
  const r = await net.exec(address === PEER_SERVER ? net.foreignName! : net.name, ['curl', '-sf', '--max-time', '5', `${LAB_ADMIN_URL}/api/v1/servers`], { check: false });
  if (r.code !== 0) return [];
  return (JSON.parse(r.stdout) as ServerList).servers.filter((s) => s.health === 'live').map((s) => s.address).sort();
}

/** The NBD connections the server at `address` holds (ss, inside its namespace): their peers. */
async function nbdPeers(net: LabNetwork, address: string): Promise<string> {
  return (await net.exec(address === PEER_SERVER ? net.foreignName! : net.name, ['ss', '-Htn', 'state', 'established', '( sport = :10809 )'])).stdout;
}

/** Waits until each server in `live` lists exactly `live` as the live servers. */
function allSee(net: LabNetwork, live: string[]): Promise<true> {
  const want = [...live].sort().join(',');
  return until(`servers ${want} to see each other live`, async () => {
    for (const a of live) if ((await liveSeenBy(net, a)).join(',') !== want) return false;
    return true;
  }, 60_000);
}

/** The node's state rebuilt from every boot event in the database, as a fresh server would. */
async function stateInDatabase(cluster: TestCluster, database: string, mac: string) {
  const rows = await cluster.sql(database, `SELECT id, server, event FROM boot_events WHERE event->>'mac' = $1 ORDER BY id`, [mac]);
  const states = new NodeStates({ isListed: () => true });
  for (const r of rows) {
    const e = r['event'] as Omit<BootEvent, 'seq'>;
    states.apply({ ...e, seq: Number(r['id']), fields: { ...e.fields, server: String(r['server']) } });
  }
  return { state: states.get(mac), servers: [...new Set(rows.map((r) => String(r['server'])))].sort() };
}

/** One boot, booted, every row of its timeline there and ok; says which servers recorded it. */
async function assertWholeBoot(cluster: TestCluster, database: string, node: LabNode): Promise<string[]> {
  const { state, servers } = await until(`${node.hostname}'s booted report in the database`, async () => {
    const s = await stateInDatabase(cluster, database, node.mac);
    return s.state?.phase === 'booted' ? s : undefined;
  }, 60_000);
  const timeline = bootTimeline(state!.boot!);
  const text = timeline.map((t) => `${t.name}:${t.status}`).join(' ');
  assert.equal(state!.bootCount, 1, `${node.hostname}: one boot in the database (${text})`);
  assert.deepEqual(WHOLE_BOOT.filter((n) => !timeline.some((t) => t.name === n)), [], `${node.hostname}: the timeline is whole: ${text}`);
  assert.deepEqual(timeline.filter((t) => t.status !== 'ok').map((t) => t.name), [], `${node.hostname}: every row ok: ${text}`);
  return servers;
}

const kernelDone = (log: Line[], size: number) =>
  log.filter((l) => l['service'] === 'http' && /kernel|vmlinuz/.test(String(l['path'])) && l['status'] === 200 && l['bytes'] === size);

test('failover drills: two servers on one database, the node\'s server killed during the kernel download, the live-root fetch and under an NBD root', { timeout: 40 * MINUTES }, async () => {
  const t0 = Date.now();
  const at = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
  const cluster = await startTestCluster(false);
  let lab: DebianLab | undefined;
  try {
    const db = await cluster.database();
    const alive = new Set(SERVERS);
    lab = await DebianLab.start({
      mode: 'nbd', nic: 'virtio-net-pci', nodes: 2, liveNodes: [1], deferredNodes: [1],
      peerServer: { stateUrl: stateUrl(db) },
      // The boot script lists the servers its server knows live: both, before any node asks.
      beforeBoot: async (net) => {
        await allSee(net, SERVERS);
      },
    });
    const l = lab;
    const [lab1, lab2] = l.nodes as [LabNode, LabNode];
    console.log(`# ${at()}: two servers up on one database, lab1 booting`);
    const kernelSize = statSync(l.image.kernel).size;

    // (a) Kernel download. The server-to-node direction is capped (tbf on lab1's tap) while the
    // first download runs: ~16 s for the kernel at 4 Mbit/s, a window the kill cannot miss.
    await l.net.exec(l.net.name, ['tc', 'qdisc', 'add', 'dev', 'tap0', 'root', 'tbf', 'rate', '4mbit', 'burst', '32kb', 'latency', '2s']);
    const first = await lab1.vm.waitFor(/http:\/\/(10\.77\.0\.[12])\/\S*(kernel|vmlinuz)/, 5 * MINUTES);
    const a = first[1]!;
    const b = other(a);
    const base = await l.net.bytesToTap('tap0');
    await until('1 MB of the kernel on its way', async () => (await l.net.bytesToTap('tap0')) > base + 1_000_000, 2 * MINUTES);
    assert.deepEqual(kernelDone(await l.serverLog(a), kernelSize), [], 'the first kernel download is still running when its server dies');
    await l.killServer(a);
    alive.delete(a);
    console.log(`# ${at()}: lab1's server ${a} killed (SIGKILL) during the kernel download`);
    await l.net.exec(l.net.name, ['tc', 'qdisc', 'del', 'dev', 'tap0', 'root']);
    const shell1 = await lab1.login(first.index, 10 * MINUTES);
    console.log(`# ${at()}: lab1 logged in through ${b}`);
    const console1 = lab1.vm.consoleText().slice(first.index, shell1);
    assert.match(console1, new RegExp(`http://${b.replaceAll('.', '\\.')}/\\S*(kernel|vmlinuz)`), 'iPXE asked the other server for the kernel');
    assert.doesNotMatch(console1, /Diskless: boot failed/, 'the script\'s || went on to the other server, not its retry loop');
    assert.equal(kernelDone(await l.serverLog(b), kernelSize).length, 1, `${b} logged one whole kernel download`);
    const cmdline = await lab1.run('cat /proc/cmdline');
    assert.match(cmdline, new RegExp(`diskless\\.server=http://${a.replaceAll('.', '\\.')} `), 'the command line names the server the script came from');
    assert.match(cmdline, new RegExp(`rd\\.diskless\\.peer=http://${b.replaceAll('.', '\\.')}\\b`), 'and the other one as a peer');
    assert.match(await lab1.run('findmnt -n -o FSTYPE,SOURCE /run/initramfs/diskless/lower'), /^squashfs\s+\/dev\/nbd0/);
    assert.match(await lab1.run('dmesg | grep "diskless-nbd: .*keeping" || true'), new RegExp(`from ${b.replaceAll('.', '\\.')}:10809 attached`), 'the NBD root is attached from the live server');
    assert.deepEqual(await assertWholeBoot(cluster, db.database, lab1), SERVERS, 'both servers recorded lab1\'s boot');
    console.log(`# ${at()}: drill (a) done; lab1's timeline whole in the database`);

    // (b) Live-root fetch. A comes back first (a restart between drills), so lab2's script lists both.
    await l.startServer(a);
    alive.add(a);
    await allSee(l.net, SERVERS);
    await l.startNode(lab2);
    // 64 Mbit/s: kernel and initrd in a few seconds, the 69 MB root in ~9 s.
    await l.net.exec(l.net.name, ['tc', 'qdisc', 'add', 'dev', 'tap1', 'root', 'tbf', 'rate', '64mbit', 'burst', '64kb', 'latency', '2s']);
    const fetching = await lab2.vm.waitFor(/diskless: fetching (http:\/\/(10\.77\.0\.[12]))\/(\S+) into RAM/, 10 * MINUTES);
    const a2 = fetching[2]!;
    const b2 = other(a2);
    const base2 = await l.net.bytesToTap('tap1');
    await until('8 MB of the root on its way', async () => (await l.net.bytesToTap('tap1')) > base2 + 8_000_000, 2 * MINUTES);
    const rootDone = (log: Line[]) => log.filter((x) => x['service'] === 'http' && String(x['path']).replace(/^\/+/, '') === fetching[3] && x['status'] === 200);
    assert.deepEqual(rootDone(await l.serverLog(a2)), [], 'the root download is still running when its server dies');
    await l.killServer(a2);
    alive.delete(a2);
    console.log(`# ${at()}: lab2's server ${a2} killed (SIGKILL) during the live-root fetch`);
    await l.net.exec(l.net.name, ['tc', 'qdisc', 'del', 'dev', 'tap1', 'root']);
    const shell2 = await lab2.login(fetching.index, 10 * MINUTES);
    console.log(`# ${at()}: lab2 logged in through ${b2}`);
    const console2 = lab2.vm.consoleText().slice(fetching.index, shell2);
    assert.match(console2, new RegExp(`diskless: server http://${b2.replaceAll('.', '\\.')} answers; http://${a2.replaceAll('.', '\\.')} did not`), '/init went on to the other server');
    assert.equal(rootDone(await l.serverLog(b2)).length, 1, `${b2} served the whole root`);
    assert.match(await lab2.run('findmnt -n -o FSTYPE /run/initramfs/diskless/lower'), /^squashfs/);
    assert.deepEqual(await assertWholeBoot(cluster, db.database, lab2), SERVERS, 'both servers recorded lab2\'s boot');
    console.log(`# ${at()}: drill (b) done; lab2's timeline whole in the database`);

    // (c) NBD root under way. lab1's root is on whichever server its keeper holds now (drill b may
    // have moved it); the other one is brought back if it is down, then the holder is killed
    // with blocks lab1 never cached being read (the page cache dropped first).
    const dots = (s: string) => s.replaceAll('.', '\\.');
    const holders: string[] = [];
    for (const s of alive) if (new RegExp(`${dots(lab1.address)}:\\d+`).test(await nbdPeers(l.net, s))) holders.push(s);
    assert.equal(holders.length, 1, `lab1's NBD root is held on one live server (${holders.join(', ')})`);
    const held = holders[0]!;
    const next = other(held);
    if (!alive.has(next)) {
      await l.startServer(next);
      alive.add(next);
    }
    const hostDigest = (await run(['sh', '-c', DIGEST_CMD.replace('cd /', `cd '${l.image.rootfs}'`)])).stdout.trim();
    assert.match(hostDigest, /^[0-9a-f]{32}$/);
    await lab1.run('sync; echo 3 > /proc/sys/vm/drop_caches');
    await l.killServer(held);
    alive.delete(held);
    const killedAt = Date.now();
    console.log(`# ${at()}: lab1's NBD server ${held} killed (SIGKILL) under the running root`);
    const out = await lab1.run(`${DIGEST_CMD}; echo "exit=$?"`, 10 * MINUTES);
    console.log(`# ${at()}: the read finished ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
    assert.match(out, /exit=0/);
    assert.equal(out.match(/^[0-9a-f]{32}$/m)?.[0], hostDigest, 'the node read the image\'s own bytes');
    const nbdLog = await lab1.run('dmesg | grep -E "nbd|diskless-nbd"');
    console.log(nbdLog.split('\n').map((x) => `# ${x}`).join('\n'));
    // The keeper's own "reconnected to" line is not awaited: in three of the six reconnects seen
    // while this test was written it was not in the kernel log yet when the read had finished,
    // though the kernel's "reconnected socket" was. Which server holds the root is read from
    // the servers' sockets instead.
    assert.match(nbdLog, new RegExp(`diskless-nbd: /dev/nbd0: connection to ${dots(held)}:10809 lost; reconnecting`));
    assert.match(nbdLog, /block nbd0: reconnected socket/);
    assert.doesNotMatch(await lab1.run('dmesg | grep -E "I/O error|SQUASHFS error" || echo none'), /I\/O error|SQUASHFS error/, 'no read failed');
    assert.match(await nbdPeers(l.net, next), new RegExp(`${dots(lab1.address)}:\\d+`), `${next} serves lab1's root now`);

    // The server that died comes back, and the one serving now dies: the keeper walks on again,
    // to the restarted one (a server restarted takes its NBD clients back).
    await l.startServer(held);
    alive.add(held);
    await lab1.run('sync; echo 3 > /proc/sys/vm/drop_caches');
    await l.killServer(next);
    alive.delete(next);
    const killed2At = Date.now();
    const out2 = await lab1.run(`${DIGEST_CMD}; echo "exit=$?"`, 3 * MINUTES);
    console.log(`# ${at()}: ${next} killed, ${held} restarted: the read finished ${((Date.now() - killed2At) / 1000).toFixed(1)} s after the kill`);
    assert.equal(out2.match(/^[0-9a-f]{32}$/m)?.[0], hostDigest, 'the node read the image\'s own bytes again');
    const nbdLog2 = await lab1.run('dmesg | grep -E "nbd|diskless-nbd"');
    console.log(nbdLog2.split('\n').map((x) => `# ${x}`).join('\n'));
    assert.match(nbdLog2, new RegExp(`connection to ${dots(next)}:10809 lost; reconnecting`), 'the keeper saw the second loss');
    assert.match(await nbdPeers(l.net, held), new RegExp(`${dots(lab1.address)}:\\d+`), `the restarted ${held} serves lab1's root again`);
    assert.doesNotMatch(await lab1.run('dmesg | grep -E "I/O error|SQUASHFS error" || echo none'), /I\/O error|SQUASHFS error/, 'no read failed');
    assert.equal(await lab1.systemState(), 'running');
    // Still the one boot: a reconnect is no new boot.
    await assertWholeBoot(cluster, db.database, lab1);
    console.log(`# ${at()}: drill (c) done`);
  } finally {
    await lab?.stop();
    await cluster.stop();
  }
});
