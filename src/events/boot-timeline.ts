import type { BootRecord, StageStep, StepStatus } from './node-state.js';

export interface TimelineEntry {
  /** `dhcp` and `load` are the server's view before the kernel runs; the rest are /init's reports. */
  name: string;
  status: StepStatus;
  /** Server time in ms since the epoch; absent when neither the node nor the server can tell. */
  start?: number;
  end?: number;
  durationMs?: number;
  detail: string;
}

/**
 * The latest boot as rows for people: firmware DHCP until the first transfer, loading until
 * the kernel started, then each stage. Stage times are the node's uptime moved onto the
 * server's clock by `kernelStartAt`, so reports queued while the network was down still sit
 * where they happened.
 */
export function bootTimeline(boot: BootRecord): TimelineEntry[] {
  const rows: TimelineEntry[] = [];
  const firstStage = boot.stages[0];
  const kernelAt = boot.kernelStartAt;
  const ended = boot.phase === 'booted' || boot.phase === 'failed';
  const loadEnd = kernelAt ?? (firstStage ? boot.lastTransferAt : undefined);
  const dhcpEnd = boot.firstTransferAt ?? loadEnd;
  if (boot.startedBy === 'dhcp') rows.push(span('dhcp', boot.startedAt, dhcpEnd, dhcpEnd === undefined && !ended ? 'running' : 'ok'));
  if (boot.firstTransferAt !== undefined) rows.push(span('load', boot.firstTransferAt, loadEnd, loadEnd === undefined && !ended ? 'running' : 'ok'));
  for (const st of boot.stages) rows.push(stageRow(st, kernelAt));
  return rows;
}

function span(name: string, start: number, end: number | undefined, status: StepStatus): TimelineEntry {
  return { name, status, start, ...(end === undefined ? {} : { end, durationMs: Math.max(0, end - start) }), detail: '' };
}

function stageRow(st: StageStep, kernelAt: number | undefined): TimelineEntry {
  const at = (uptime: number | undefined) => (uptime === undefined || kernelAt === undefined ? undefined : kernelAt + uptime);
  const start = at(st.startUptimeMs);
  const end = at(st.endUptimeMs) ?? (st.status === 'ok' || st.status === 'failed' ? st.reportedAt : undefined);
  return {
    name: st.name,
    status: st.status,
    ...(start === undefined ? {} : { start }),
    ...(end === undefined ? {} : { end }),
    ...(st.durationMs === undefined ? {} : { durationMs: st.durationMs }),
    detail: st.detail,
  };
}
