import { join } from 'node:path';
import { chmod, mkdir, rm } from 'node:fs/promises';
import type { Benchmark, BenchContext } from './lib/context.js';
import { compare } from './lib/compare.js';
import type { BenchNet } from './lib/net.js';
import { startOurs, type Server } from './lib/servers.js';
import { addressesAckedTwice, dhcpPacketsInPcap } from './lib/pcap.js';
import { parsePerfdhcp } from './dhcp.js';
import { startTestCluster, type TestCluster } from '../src/testing/postgres-cluster.js';
import { DhcpMessageType } from '../src/protocols/dhcp/message-types.js';
import { DhcpOption } from '../src/protocols/dhcp/dhcp-options.js';
import { getOption } from '../src/protocols/dhcp/option-spec.js';
import { macOf } from '../src/protocols/dhcp/packet.js';

/** The second boot server's address on the bridge. */
const SERVER_B = '10.77.0.3';
const DATABASE = 'bench';

/**
 * Two `diskless serve` on one bridge sharing one PostgreSQL (fsync on, over its unix socket),
 * against one `diskless serve` with its leases in a file: perfdhcp's avalanche of N clients,
 * broadcast, so both shared servers hear every message and race for every client. Each run is
 * also checked: every client bound in the database, and no address ACKed to two MACs on the
 * wire (a capture on the client side) nor bound to two in the database.
 */
export const dhcpSharedBenchmark: Benchmark = {
  name: 'dhcp-shared',
  network: true,
  async run({ net, work, scale, log }: BenchContext) {
    const cluster = await startTestCluster(true);
    try {
      await net.server(['ip', 'addr', 'add', `${SERVER_B}/16`, 'dev', 'br0']);
      const fresh = async (dir: string): Promise<string> => {
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir, { recursive: true });
        return dir;
      };
      // Both servers share one secrets key, in a directory of its own (a key beside the state is
      // refused: serve makes state_dir 0750, and a key's directory must be 0700).
      const keyDir = join(work, 'keys');
      await mkdir(keyDir, { recursive: true, mode: 0o700 });
      await chmod(keyDir, 0o700);
      const state = `{ url: "postgres://postgres@:${cluster.port}/${DATABASE}?host=${cluster.socketDir}", secrets_key_file: ${join(keyDir, 'secrets.key')} }`;
      let shared = false;
      return await compare({
        bench: 'dhcp-shared',
        net,
        ours: {
          name: 'diskless x2 postgres',
          start: async () => {
            shared = true;
            await cluster.sql('postgres', `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
            await cluster.sql('postgres', `CREATE DATABASE ${DATABASE}`);
            const a = await startOurs(net, await fresh(join(work, 'a')), { filesDir: work, dhcp: true, state });
            const b = await startOurs(net, await fresh(join(work, 'b')), { filesDir: work, dhcp: true, state, address: SERVER_B, apiPort: 8781 })
              .catch(async (e: unknown) => {
                await a.stop();
                throw e;
              });
            return both(a, b);
          },
        },
        peers: [{
          name: 'diskless files',
          start: async () => {
            shared = false;
            return startOurs(net, await fresh(join(work, 'files')), { filesDir: work, dhcp: true });
          },
        }],
        cases: [{
          name: `perfdhcp avalanche DORA, ${scale.dhcpClients} clients broadcast, leases persisted`,
          link: 'veth',
          unit: 'exchanges/s',
          better: 'higher',
          measure: () => checkedDora(net, cluster, work, scale.dhcpClients, shared, log),
          note: 'ours: two servers answering every broadcast, each address claimed in PostgreSQL; peer: one server, leases in a file',
        }],
        repeats: scale.repeats,
        log,
      });
    } finally {
      await cluster.stop();
    }
  },
};

function both(a: Server, b: Server): Server {
  return { name: 'diskless x2', stop: async () => { await Promise.all([a.stop(), b.stop()]); } };
}

async function checkedDora(net: BenchNet, cluster: TestCluster, work: string, clients: number, shared: boolean, log: (l: string) => void): Promise<number> {
  const capture = join(work, 'dhcp.pcap');
  await rm(capture, { force: true });
  const tcpdump = await net.spawnClient(['tcpdump', '-i', 'eth0', '-n', '-U', '-s', '600', '-w', capture, 'udp and (port 67 or port 68)']);
  try {
    // tcpdump says "listening on" once its socket is open.
    const deadline = Date.now() + 10_000;
    while (!tcpdump.output().includes('listening on') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // No server named: perfdhcp broadcasts, as a booting machine does.
    const r = await net.client(['perfdhcp', '-4', '-l', 'eth0', '-B', '-R', String(clients), '--scenario', 'avalanche'], { timeoutMs: 900_000, check: false });
    const run = parsePerfdhcp(r.stdout + r.stderr);
    if (run.drops > 0) log(`    perfdhcp: ${run.drops} drops (retransmitted)`);
    await new Promise((res) => setTimeout(res, 500));
    await tcpdump.stop();
    const packets = await dhcpPacketsInPcap(capture);
    const isAck = (p: Parameters<typeof macOf>[0]) => p.op === 2 && getOption(p, DhcpOption.messageType) === DhcpMessageType.Ack;
    const twice = addressesAckedTwice(packets, isAck);
    if (twice.size > 0) throw new Error(`addresses ACKed to two clients: ${[...twice].slice(0, 5).map(([ip, m]) => `${ip} → ${m.join(' ')}`).join('; ')}`);
    const acked = new Set(packets.filter(isAck).map((p) => macOf(p)));
    log(`    capture: ${packets.length} DHCP packets, ${acked.size} clients ACKed, no address ACKed to two`);
    if (shared) {
      const rows = await cluster.sql(DATABASE, `SELECT count(*)::int AS bound, count(DISTINCT mac)::int AS macs FROM dhcp_leases WHERE state = 'bound'`);
      const { bound, macs } = rows[0] as { bound: number; macs: number };
      const servers = await cluster.sql(DATABASE, `SELECT server, count(*)::int AS n FROM dhcp_leases WHERE state = 'bound' GROUP BY server ORDER BY server`);
      log(`    database: ${bound} addresses bound to ${macs} clients (${servers.map((s) => `${String(s.server)}: ${String(s.n)}`).join(', ')})`);
      if (bound !== clients || macs !== clients) throw new Error(`${bound} addresses bound to ${macs} clients in the database, expected ${clients}`);
    }
    // The database is the count of record; the capture may miss a packet under load.
    if (acked.size < clients) log(`    capture: only ${acked.size} of ${clients} clients seen ACKed on the wire`);
    return run.rate;
  } finally {
    await tcpdump.stop();
  }
}

