import { parseArgs } from 'node:util';
import { loadConfigFrom } from '../config/config-path.js';
import { normalizeMac } from '../net/mac.js';
import type { BootEvent, EventPage, NodeSummary } from '../api/wire.js';
import { eventLine } from './fleet-format.js';
import { apiBase, apiTls, followEvents, getAll, getJson } from './server-api.js';
import type { CliIo } from './status.js';
import { DisklessError } from '../errors/diskless-error.js';

const HELP = `Usage: diskless events [--config FILE] [--follow] [--node MAC|HOSTNAME] [--limit N]

Prints boot events, oldest first, one per line: time, node, kind (dhcp, tftp, http, nbd,
stage, booted, failed, alert), name, detail, and duration and size where known.
Without --follow the last N (default 50); with --follow the last N and then each new event
as it happens, until interrupted (a dropped connection is resumed without losing events).
Asks the running "diskless serve" over its API, so this machine must be in api.read_from.
`;

export interface EventsIo extends CliIo {
  /** Reconnect delay for --follow (tests). */
  retryMs?: number;
  stderr?: (s: string) => void;
}

export async function eventsCommand(argv: string[], io: EventsIo = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => void process.stdout.write(s));
  const err = io.stderr ?? ((s: string) => void process.stderr.write(s));
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, follow: { type: 'boolean', short: 'f' }, node: { type: 'string' }, limit: { type: 'string', short: 'n' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    out(HELP);
    return 0;
  }
  const limit = values.limit ?? '50';
  if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) throw new DisklessError('DL_INVALID', `events: --limit must be a whole number from 1 to 1000 (got "${limit}")`);
  const config = loadConfigFrom(values.config);
  const base = apiBase(config);
  const tls = apiTls(config);

  // Host names come from the server's inventory, so --node takes either and lines show names.
  const nodes = await getAll<NodeSummary>(base, '/nodes', 'nodes', tls);
  const names = new Map(nodes.filter((n) => n.hostname).map((n) => [n.mac, n.hostname!]));
  let mac: string | undefined;
  if (values.node !== undefined) {
    mac = normalizeMac(values.node) ?? nodes.find((n) => n.hostname?.toLowerCase() === values.node!.toLowerCase())?.mac;
    if (!mac) throw new DisklessError('DL_INVALID', `events: --node ${values.node} is neither a MAC address nor a host name in the inventory`);
  }
  const node = mac ? `&node=${encodeURIComponent(mac)}` : '';
  const page = await getJson<EventPage>(`${base}/events?limit=${limit}${node}`, tls);
  for (const e of page.events) out(eventLine(e, names));
  if (!values.follow) return 0;

  await followEvents(`${base}/events/stream${node ? `?${node.slice(1)}` : ''}`, (data) => out(eventLine(JSON.parse(data) as BootEvent, names)), {
    afterSeq: page.lastSeq,
    ...(io.signal ? { signal: io.signal } : {}),
    ...(io.retryMs !== undefined ? { retryMs: io.retryMs } : {}),
    onDrop: (why) => err(`diskless events: connection lost (${why}); reconnecting\n`),
    ...(tls ? { tls } : {}),
  });
  return 0;
}
