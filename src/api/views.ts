import type { NodeConfig, ProfileConfig } from '../config/types.js';
import { bootTimeline } from '../events/boot-timeline.js';
import { nodeStatus, type NodeState } from '../events/node-state.js';
import type { DiscoveredMachine } from '../inventory/discovered.js';
import type { ImageSummary } from '../images/store/image-store.js';
import type { FailureReport as KeptFailureReport } from '../events/failure-reports.js';
import type { FailureReport, FailureReportSummary, NodeDetail, NodeSummary, Profile, RunningImage, Sighting, StoredImage } from './wire.js';

/** A node as the API shows it: the inventory's fields and where it is now. */
export function nodeSummary(mac: string, node: NodeConfig | undefined, state: NodeState | undefined): NodeSummary {
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
    running: (state && runningImage(state)) ?? null,
    lastEvent: state?.lastEvent ?? null,
    relayAgent: state?.relayAgent ? { ...state.relayAgent } : null,
  };
}

export function nodeDetail(mac: string, node: NodeConfig | undefined, state: NodeState | undefined, report?: KeptFailureReport): NodeDetail {
  return {
    ...nodeSummary(mac, node, state),
    ...(node ? { cmdline: node.cmdline ?? null, loader: node.loader ?? null } : {}),
    image: state?.boot?.image ?? null,
    failure: state?.boot?.failure ?? null,
    timeline: state?.boot ? bootTimeline(state.boot) : [],
    failureReport: report ? failureReportSummary(report) : null,
  };
}

export function failureReportSummary(r: KeptFailureReport): FailureReportSummary {
  return { at: r.at, stage: r.stage, cause: r.cause, bytes: Buffer.byteLength(r.text), truncated: r.truncated };
}

export function failureReportView(r: KeptFailureReport): FailureReport {
  return { mac: r.mac, ...failureReportSummary(r), text: r.text };
}

/** The image version a machine runs now: what it booted, or what its boot in progress loads. */
export function runningImage(state: NodeState): RunningImage | undefined {
  if (state.phase === 'booted') return state.booted ? { ...(state.booted.image ? { name: state.booted.image } : {}), ...(state.booted.version ? { version: state.booted.version } : {}) } : undefined;
  if (state.phase === 'loading' || state.phase === 'initramfs') return state.boot?.image;
  return undefined;
}

/** A profile and the MACs of the inventory nodes using it. */
export function profileView(p: ProfileConfig, nodes: readonly string[]): Profile {
  return { name: p.name, image: p.image ?? null, kernel: p.kernel, initrds: p.initrds, cmdline: p.cmdline, loader: p.loader, secureBoot: p.secureBoot, root: p.root ?? null, nodes: [...nodes] };
}

/** An image with its versions; `runningOn` gives the MACs running one version. */
export function imageView(img: ImageSummary, runningOn: (version: string) => string[]): StoredImage {
  return {
    name: img.name, published: img.published, publishedAt: img.publishedAt, previous: img.previous,
    versions: img.versions.map((v) => ({
      version: v.version, created: v.created, kernelVersion: v.kernelVersion, size: v.size, sha256: v.sha256, parent: v.parent,
      published: v.version === img.published,
      nodes: runningOn(v.version),
    })),
  };
}

export function sightingView(m: DiscoveredMachine): Sighting {
  return { firstSeen: m.firstSeen, lastSeen: m.lastSeen, count: m.count, vendorClass: m.vendorClass ?? null, arch: m.arch ?? null, userClass: m.userClass ?? null, lastIp: m.lastIp ?? null };
}
