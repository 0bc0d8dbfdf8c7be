import type { NodeConfig } from '../config/types.js';
import { bootTimeline } from '../events/boot-timeline.js';
import { nodeStatus, type NodeState } from '../events/node-state.js';

/** A node as the API shows it: the inventory's fields and where it is now. */
export function nodeSummary(mac: string, node: NodeConfig | undefined, state: NodeState | undefined) {
  return {
    mac,
    known: node !== undefined,
    ...(node ? { hostname: node.hostname ?? null, address: node.address ?? null, profile: node.profile } : {}),
    status: nodeStatus(state),
    stage: state?.stage ?? null,
    cause: state?.cause ?? null,
    ip: state?.ip ?? null,
    bootCount: state?.bootCount ?? 0,
    bootStartedAt: state?.boot?.startedAt ?? null,
    booted: state?.booted ?? null,
    /** What it runs or is loading now (image@version), for fleet tables. */
    running: (state && runningImage(state)) ?? null,
    lastEvent: state?.lastEvent ?? null,
  };
}

export function nodeDetail(mac: string, node: NodeConfig | undefined, state: NodeState | undefined) {
  return {
    ...nodeSummary(mac, node, state),
    ...(node ? { cmdline: node.cmdline ?? null, loader: node.loader ?? null } : {}),
    image: state?.boot?.image ?? null,
    failure: state?.boot?.failure ?? null,
    timeline: state?.boot ? bootTimeline(state.boot) : [],
  };
}

/** The image version a machine runs now: what it booted, or what its boot in progress loads. */
export function runningImage(state: NodeState): { name?: string; version?: string } | undefined {
  if (state.phase === 'booted') return state.booted ? { ...(state.booted.image ? { name: state.booted.image } : {}), ...(state.booted.version ? { version: state.booted.version } : {}) } : undefined;
  if (state.phase === 'loading' || state.phase === 'initramfs') return state.boot?.image;
  return undefined;
}
