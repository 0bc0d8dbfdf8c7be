/**
 * The JSON bodies of /api/v1, declared once. The API builds them (views.ts, typed with these),
 * the dashboard (src/dashboard/ui) and the CLI read them, and the OpenAPI document's schemas
 * are held to them by openapi.test.ts.
 *
 * Types only, and every import here is `import type`: the compiler erases them, so the browser
 * modules can `import type` this file without the page ever loading it (the dashboard serves
 * only the modules in src/dashboard/ui). Events, their timeline rows and a node's status go on
 * the wire exactly as src/events keeps them, so they are re-exported rather than restated.
 */
import type { BootEvent } from '../events/boot-event.js';
import type { TimelineEntry } from '../events/boot-timeline.js';
import type { EventRef, NodeStatus } from '../events/node-state.js';
import type { Rollout } from '../rollout/plan.js';

export type { BootEvent, BootEventKind } from '../events/boot-event.js';
export type { TimelineEntry } from '../events/boot-timeline.js';
export type { EventRef, NodeStatus } from '../events/node-state.js';
export type { Rollout, RolloutNode, RolloutSpec, RolloutStatus, RolloutNodeStatus, BatchSize } from '../rollout/plan.js';
export type { VersionPinRow } from '../rollout/runner.js';
import type { VersionPinRow } from '../rollout/runner.js';

/** GET /rollouts: the rollout under way or the last one, and the ones before it, newest first. */
export interface RolloutList {
  current: Rollout | null;
  history: Rollout[];
}

/** GET /pins: every pin (of one image with ?image=), by MAC. */
export interface VersionPinList {
  pins: VersionPinRow[];
}

/** POST /pins/unpin: the pins dropped. */
export interface Unpinned {
  unpinned: VersionPinRow[];
}

/** An image version by name: what a node runs or loads; either part may be unknown. */
export interface RunningImage {
  name?: string;
  version?: string;
}

/** A machine as the lists show it: the inventory's fields (inventory nodes only) and where it is now. */
export interface NodeSummary {
  mac: string;
  /** In the inventory. */
  known: boolean;
  /** Inventory nodes only, like address and profile. */
  hostname?: string | null;
  address?: string | null;
  profile?: string;
  status: NodeStatus;
  /** initramfs: the stage running; failed: the stage that failed. */
  stage: string | null;
  /** failed: what the node said went wrong. */
  cause: string | null;
  /** The address it was last seen at. */
  ip: string | null;
  bootCount: number;
  /** Server time (ms since the epoch) the latest boot started. */
  bootStartedAt: number | null;
  /** What the last successful boot runs, and when it said so. */
  booted: { image?: string; version?: string; at: number } | null;
  /** What it runs or is loading now (image@version), for fleet tables. */
  running: RunningImage | null;
  lastEvent: EventRef | null;
  /**
   * The switch port its DHCP relay last reported it on (option 82: circuit id, remote id), and
   * whether the server trusted that relay to name the port (a subnet reached only via relays).
   */
  relayAgent: { circuitId?: string; remoteId?: string; trusted: boolean } | null;
}

/** One machine with its latest boot. */
export interface NodeDetail extends NodeSummary {
  /** Inventory nodes only. */
  cmdline?: string | null;
  loader?: Loader | null;
  /** The stored image version the latest boot loads. */
  image: { name: string; version: string } | null;
  failure: { stage: string; cause: string } | null;
  timeline: TimelineEntry[];
  /** Its last failure report (GET /nodes/{mac}/failure-report has the text), from this boot or an earlier one. */
  failureReport: FailureReportSummary | null;
}

/** A failure report without its text. */
export interface FailureReportSummary {
  /** When the server received it (ISO 8601). */
  at: string;
  stage: string;
  cause: string;
  /** Length of the text in bytes. */
  bytes: number;
  truncated: boolean;
}

/** GET /nodes/{mac}/failure-report: what /init saved when a stage failed, as the node sent it (cleaned). */
export interface FailureReport extends FailureReportSummary {
  mac: string;
  text: string;
}

/** What the server's own services saw of a machine outside the inventory. */
export interface Sighting {
  firstSeen: string;
  lastSeen: string;
  /** DHCP requests and boot script fetches seen from it. */
  count: number;
  vendorClass: string | null;
  arch: string | null;
  userClass: string | null;
  lastIp: string | null;
}

/** A machine seen but not in the inventory; `seen` when the server's services recorded it. */
export interface DiscoveredMachine extends NodeSummary {
  seen?: Sighting;
}

/** GET /nodes: a page in MAC order; `next` is the `after` of the following page, null on the last. */
export interface NodePage {
  nodes: NodeSummary[];
  next: string | null;
}

export interface DiscoveredPage {
  discovered: DiscoveredMachine[];
  next: string | null;
}

export interface EventPage {
  events: BootEvent[];
  /** The newest event's seq: where a stream resumes. */
  lastSeq: number;
}

export type Loader = 'ipxe' | 'pxelinux' | 'grub';

/** Where a profile's root comes from (the config's `root:`). */
export interface ProfileRoot {
  mode: 'live' | 'nbd' | 'nfs';
  image?: string;
  dir?: string;
  copy: boolean;
  overlay: 'tmpfs' | 'none';
  /** Seconds /init keeps retrying to attach the root. */
  retry: number;
}

export interface Profile {
  name: string;
  /** A stored image; then kernel is empty and the published version's files are served. */
  image: string | null;
  kernel: string;
  initrds: string[];
  cmdline: string;
  loader: Loader;
  /** UEFI machines get shim → GRUB and the kernel must be signed. */
  secureBoot: boolean;
  root: ProfileRoot | null;
  /** The MACs of the inventory nodes using it. */
  nodes: string[];
}

/** One boot server of the site, as the state it shares says. */
export interface BootServer {
  /** Its server.address: the DHCP server identifier and boot address. */
  address: string;
  name: string;
  bootUrl: string;
  /** live: heartbeats arrive; gone: stopped, or silent for 10 s. */
  health: 'live' | 'gone';
  /** The server that answered this request. */
  self: boolean;
  startedAt: string | null;
  heartbeatAt: string | null;
  /** The MACs holding an unexpired address its DHCP bound. */
  nodes: string[];
}

export interface ServerList {
  /** Where the state is kept: files (one server) or postgres (shared). */
  state: 'files' | 'postgres';
  servers: BootServer[];
}

export interface ProfileList {
  defaultProfile: string | null;
  profiles: Profile[];
}

export interface StoredImageVersion {
  version: string;
  created: string;
  kernelVersion: string;
  size: number;
  sha256: string;
  parent: string | null;
  published: boolean;
  /** The MACs of the machines running it. */
  nodes: string[];
}

export interface StoredImage {
  name: string;
  published: string | null;
  publishedAt: string | null;
  /** Earlier published versions, newest first: where a rollback goes. */
  previous: string[];
  /** Oldest first. */
  versions: StoredImageVersion[];
}

export interface ImageList {
  images: StoredImage[];
}

/** The answer to a node write or an adoption. */
export interface NodeWritten {
  mac: string;
}

/** The answer to a publish or a rollback: the image's published pointer as it is now. */
export interface Published {
  name: string;
  published: { version: string; previous: string[]; publishedAt: string };
  /**
   * With a state database, after a publish: each live boot server's copy of the version once
   * every one holds it or failed to fetch it, or as they stood when the wait ran out.
   */
  copies?: ImageCopy[];
}

/** One live boot server's copy of a published version. */
export interface ImageCopy {
  server: string;
  /** present: it holds it; failed: its fetch failed; absent: nothing reported within the wait. */
  state: 'present' | 'failed' | 'absent';
  /** Why it is missing and what to check (failed, absent). */
  reason?: string;
}

/** Every refusal: what went wrong, and what to do about it. */
export interface ApiErrorBody {
  error: string;
  /** A stable DisklessError code, when a part behind the API refused (not the API's own refusals). */
  code?: string;
  hint: string;
}
