import { parseArgs } from 'node:util';
import { loadConfigFrom } from '../config/config-path.js';
import { statusTable } from './fleet-format.js';
import type { NodeSummary } from '../api/wire.js';
import { apiBase, apiTls, getAll } from './server-api.js';

const HELP = `Usage: diskless status [--config FILE] [--json]

Shows every node of the config as the running server sees it: where it is in its boot
(dhcp, loading, initramfs stage, booted, failed), since when, the image version it runs
and its last event. Asks "diskless serve" over its admin API (GET /api/v1/nodes at api.address
and api.port), so this machine must be in api.read_from. --json prints the API's answer.
`;

export interface CliIo {
  stdout?: (s: string) => void;
  now?: () => number;
  signal?: AbortSignal;
}

export async function statusCommand(argv: string[], io: CliIo = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => void process.stdout.write(s));
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    out(HELP);
    return 0;
  }
  const config = loadConfigFrom(values.config);
  const nodes = inConfigOrder(await getAll<NodeSummary>(apiBase(config), '/nodes', 'nodes', apiTls(config)), config.nodes);
  if (values.json) out(`${JSON.stringify(nodes, null, 2)}\n`);
  else out(nodes.length ? statusTable(nodes, (io.now ?? Date.now)()) : 'no nodes in the inventory\n');
  return 0;
}

/** The API pages in MAC order; rows follow the config file, as the admin wrote it (others after). */
function inConfigOrder(rows: NodeSummary[], nodes: readonly { mac: string }[]): NodeSummary[] {
  const rank = new Map(nodes.map((n, i) => [n.mac, i]));
  return [...rows].sort((a, b) => (rank.get(a.mac) ?? Infinity) - (rank.get(b.mac) ?? Infinity) || a.mac.localeCompare(b.mac));
}
