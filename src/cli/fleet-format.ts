import type { BootEvent, FailureReport, NodeDetail, NodeSummary, ServerList } from '../api/wire.js';

/** "12s", "5m", "3h", "2d": how long ago, in the largest whole unit. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** The fleet as `diskless status` prints it: one row per inventory node, columns aligned. */
export function statusTable(nodes: readonly NodeSummary[], now: number): string {
  // The switch port column appears once any node came through a relay that names ports.
  const ports = nodes.some((n) => n.relayAgent);
  const rows = [['HOSTNAME', 'MAC', 'ADDRESS', ...(ports ? ['PORT'] : []), 'STATE', 'STAGE', 'SINCE', 'IMAGE', 'LAST EVENT']];
  for (const n of nodes) {
    const since = n.status === 'booted' ? n.booted?.at : (n.bootStartedAt ?? n.lastEvent?.time);
    const image = n.running?.name ? `${n.running.name}${n.running.version ? `@${n.running.version}` : ''}` : '-';
    const last = n.lastEvent ? clip(`${n.lastEvent.kind} ${n.lastEvent.name}${n.lastEvent.detail ? `: ${n.lastEvent.detail}` : ''}`, 60) : '-';
    rows.push([n.hostname ?? '-', n.mac, n.address ?? n.ip ?? '-', ...(ports ? [portText(n.relayAgent)] : []), n.status, n.stage ?? '-', since === undefined ? '-' : age(now - since), image, last]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n').join('');
}

/**
 * The boot servers sharing the state, as `diskless status` prints them below the nodes: health,
 * the age of the last heartbeat, and the nodes each one's DHCP bound, by host name where the
 * node list names the machine (a node known only by its switch port is listed by the MAC of
 * the machine last taken for it, so it is named too), else by MAC.
 */
export function serverTable(list: ServerList, nodes: readonly NodeSummary[], now: number): string {
  const names = new Map(nodes.flatMap((n) => (n.hostname ? [[n.mac, n.hostname] as const] : [])));
  const rows = [['SERVER', 'NAME', 'HEALTH', 'HEARTBEAT', 'NODES']];
  for (const s of list.servers) {
    const beat = s.heartbeatAt === null ? '-' : age(now - Date.parse(s.heartbeatAt));
    const nodes = s.nodes.length === 0 ? '-' : `${s.nodes.length}: ${clip(s.nodes.map((m) => names.get(m) ?? m).join(', '), 60)}`;
    rows.push([s.address, s.name, s.self ? `${s.health} (this)` : s.health, beat, nodes]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n').join('');
}

/** "Gi1/0/7@sw3" (circuit id at remote id); "?" marks a relay the server does not trust to name ports. */
function portText(agent: NodeSummary['relayAgent']): string {
  if (!agent) return '-';
  const port = `${agent.circuitId ?? '-'}${agent.remoteId !== undefined ? `@${agent.remoteId}` : ''}`;
  return agent.trusted ? port : `${port}?`;
}

/**
 * One machine as `diskless status NODE` prints it: where it is, the timeline of its latest
 * boot, and its last failure report in full (the server stripped its control characters).
 */
export function nodeDetailText(d: NodeDetail, report: FailureReport | undefined, now: number): string {
  const since = d.status === 'booted' ? d.booted?.at : (d.bootStartedAt ?? d.lastEvent?.time);
  const image = d.running?.name ? `${d.running.name}${d.running.version ? `@${d.running.version}` : ''}` : '-';
  const lines = [
    `${d.hostname ?? (d.known ? '-' : 'not in the inventory')} (${d.mac})`,
    `  state    ${d.status}${d.stage ? ` (${d.stage})` : ''}${since === undefined ? '' : `, ${age(now - since)} ago`}`,
    `  address  ${d.address ?? d.ip ?? '-'}`,
    `  profile  ${d.profile ?? '-'}`,
    `  image    ${image}`,
    `  boots    ${d.bootCount}`,
  ];
  if (d.failure) lines.push(`  failure  ${d.failure.stage}: ${d.failure.cause}`);
  if (d.timeline.length) {
    lines.push('', 'Latest boot:');
    for (const r of d.timeline) lines.push(`  ${r.name.padEnd(12)} ${r.status.padEnd(8)} ${r.durationMs === undefined ? '' : `${r.durationMs} ms`}${r.detail ? `  ${r.detail}` : ''}`.trimEnd());
  }
  if (report) {
    lines.push('', `Last failure report, received ${report.at} (${size(report.bytes)}${report.truncated ? ', cut short' : ''}): stage ${report.stage}: ${report.cause}`);
    lines.push(...report.text.replace(/\n$/, '').split('\n').map((l) => `  ${l}`));
  } else lines.push('', 'No failure report.');
  return `${lines.join('\n')}\n`;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1048576) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/**
 * One event as `diskless events` prints it: time, node (host name where the inventory has one),
 * kind, name, detail, then duration and bytes when the event has them. Tab-free, one line.
 */
export function eventLine(e: BootEvent, names: ReadonlyMap<string, string>): string {
  const who = e.mac ? (names.get(e.mac) ?? e.mac) : (e.ip ?? '-');
  const extra = [
    e.durationMs === undefined ? undefined : e.durationMs < 1000 ? `${e.durationMs} ms` : `${(e.durationMs / 1000).toFixed(1)} s`,
    e.bytes ? size(e.bytes) : undefined,
  ].filter(Boolean);
  const detail = e.detail.replace(/[\r\n\t]+/g, ' ');
  return `${new Date(e.time).toISOString()}  ${who.padEnd(17)}  ${e.kind.padEnd(6)}  ${e.name.padEnd(10)}  ${detail}${extra.length ? `  (${extra.join(', ')})` : ''}`.trimEnd() + '\n';
}
