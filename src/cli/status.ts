import { parseArgs } from 'node:util';
import { loadConfigFrom } from '../config/config-path.js';
import { nodeDetailText, serverTable, statusTable } from './fleet-format.js';
import type { FailureReport, NodeDetail, NodeSummary, ServerList } from '../api/wire.js';
import { apiBase, apiTls, getAll, getJson } from './server-api.js';
import { DisklessError } from '../errors/diskless-error.js';
import { normalizeMac } from '../net/mac.js';
import { nodeKey } from '../boot/boot-target.js';

const HELP = `Usage: diskless status [--config FILE] [--json] [NODE]

Shows every node of the config as the running server sees it: where it is in its boot
(dhcp, loading, initramfs stage, booted, failed), since when, the image version it runs
and its last event. Asks "diskless serve" over its admin API (GET /api/v1/nodes at api.address
and api.port), so this machine must be in api.read_from. --json prints the API's answer.
With state: postgres://… it then lists every boot server sharing the database (GET
/api/v1/servers): its health, its last heartbeat and the nodes its DHCP bound.

With NODE (a host name from the config, or a MAC address): that machine alone, the timeline of
its latest boot, and the last failure report it sent (a boot that failed under rd.shell=0,
on_failure: reboot or poweroff), in full.
`;

export interface CliIo {
  stdout?: (s: string) => void;
  now?: () => number;
  signal?: AbortSignal;
}

export async function statusCommand(argv: string[], io: CliIo = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => void process.stdout.write(s));
  const { values, positionals } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  if (values.help) {
    out(HELP);
    return 0;
  }
  if (positionals.length > 1) throw new DisklessError('DL_INVALID', `status: one NODE at most, got ${positionals.length}\n\n${HELP}`);
  const config = loadConfigFrom(values.config);
  if (positionals.length === 1) {
    const name = positionals[0]!;
    // A node known by its switch port has no MAC: the API names it host:NAME (its key).
    const node = config.nodes.find((n) => n.hostname === name);
    const mac = node ? node.mac ?? nodeKey(node) : name.startsWith('host:') ? name : normalizeMac(name);
    if (!mac) throw new DisklessError('DL_INVALID', `status: ${JSON.stringify(name)} is neither a host name in ${config.file} nor a MAC address (nor host:NAME)`);
    const tls = apiTls(config);
    const path = `/nodes/${encodeURIComponent(mac)}`;
    const detail = await getJson<NodeDetail>(`${apiBase(config)}${path}`, tls);
    const report = detail.failureReport ? await getJson<FailureReport>(`${apiBase(config)}${path}/failure-report`, tls) : undefined;
    if (values.json) out(`${JSON.stringify({ ...detail, ...(report ? { failureReport: report } : {}) }, null, 2)}\n`);
    else out(nodeDetailText(detail, report, (io.now ?? Date.now)()));
    return 0;
  }
  const nodes = inConfigOrder(await getAll<NodeSummary>(apiBase(config), '/nodes', 'nodes', apiTls(config)), config.nodes);
  if (values.json) out(`${JSON.stringify(nodes, null, 2)}\n`);
  else out(nodes.length ? statusTable(nodes, (io.now ?? Date.now)()) : 'no nodes in the inventory\n');
  // Several servers share the state: which are up, and which nodes each one's DHCP bound.
  if (!values.json && config.state.backend === 'postgres') {
    const servers = await getJson<ServerList>(`${apiBase(config)}/servers`, apiTls(config));
    out(`\n${serverTable(servers, nodes, (io.now ?? Date.now)())}`);
  }
  return 0;
}

/** The API pages in MAC order; rows follow the config file, as the admin wrote it (others after). */
function inConfigOrder(rows: NodeSummary[], nodes: readonly { mac?: string; hostname?: string }[]): NodeSummary[] {
  // A node without a MAC (known by its switch port) is ranked by its host name.
  const rank = new Map(nodes.map((n, i) => [n.mac ?? n.hostname, i]));
  return [...rows].sort((a, b) => (rank.get(a.mac) ?? rank.get(a.hostname ?? '') ?? Infinity) - (rank.get(b.mac) ?? rank.get(b.hostname ?? '') ?? Infinity) || a.mac.localeCompare(b.mac));
}
