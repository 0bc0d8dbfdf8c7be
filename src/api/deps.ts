import type { DisklessConfig } from '../config/types.js';
import type { ImageSummary, PublishedPointer } from '../images/store/image-store.js';
import type { EventStore } from '../events/event-store.js';
import type { NodeState } from '../events/node-state.js';
import type { DiscoveredMachine } from '../inventory/discovered.js';
import type { FailureReport } from '../events/failure-reports.js';
import type { RunningRecord } from '../images/store/running-versions.js';
import type { NodeChanges, NodeSpec } from '../inventory/editor.js';
import type { Logger } from '../log/logger.js';
import type { Rollout } from '../rollout/plan.js';
import type { RolloutRequest } from '../rollout/runner.js';
import type { EventStreamSlots, StreamLimits } from './event-stream.js';
import type { ImageCopy, ServerList, VersionPinRow } from './wire.js';

/** Node fields the API may write: the inventory editor's own shape. */
export type NodeFields = NodeSpec;
export type NodeFieldChanges = Omit<NodeChanges, 'mac'>;

/** Inventory writes (wired to editConfigFile + addNode/setNode); they throw InventoryError on a refused edit. */
export interface InventoryWrites {
  addNode(node: NodeFields): Promise<void>;
  setNode(mac: string, changes: NodeFieldChanges): Promise<void>;
  /** `node adopt` for a discovered machine (default_profile, hostname required); addNode when absent. */
  adoptNode?(node: NodeFields): Promise<void>;
}

/** The image store's part the API uses (ImageStore satisfies it). */
export interface ImageProvider {
  list(): Promise<ImageSummary[]>;
  publish(name: string, version: string): Promise<PublishedPointer>;
  rollback(name: string): Promise<PublishedPointer>;
  /**
   * With a state database: publishes, then waits up to `waitSec` (the server's default when
   * undefined) until every live server holds the version or failed to fetch it.
   */
  publishAndWait?(name: string, version: string, waitSec: number | undefined): Promise<{ published: PublishedPointer; copies: ImageCopy[] }>;
}

/** The server's rollouts (RolloutRunner satisfies it). */
export interface RolloutControl {
  list(): { current: Rollout | null; history: readonly Rollout[] };
  get(id: string): Rollout | undefined;
  start(req: RolloutRequest): Promise<Rollout>;
  control(id: string, what: 'pause' | 'resume' | 'abort'): Promise<Rollout>;
  /** The version pins, of one image or all. */
  pins(image?: string): VersionPinRow[];
  /** Drops the pins of the nodes named (host names or MACs) and/or of one image; never all. */
  unpin(sel: { nodes?: readonly string[]; image?: string }): Promise<VersionPinRow[]>;
}

export interface ApiDeps {
  /** The config as it is now (re-read after edits by whoever owns it). */
  inventory: () => Pick<DisklessConfig, 'nodes' | 'profiles' | 'defaultProfile'>;
  events: Pick<EventStore, 'query' | 'subscribe' | 'lastSeq'>;
  states: { get(mac: string): NodeState | undefined; all(): NodeState[] };
  images?: ImageProvider;
  writes?: InventoryWrites;
  /** The discovery store (STATE/discovered.json); without it, machines seen in events only. */
  discovered?: () => readonly DiscoveredMachine[];
  /**
   * The version each node was last given (STATE/running-versions.json), what `image rm`
   * checks; without it, what node states say each machine runs.
   */
  running?: () => ReadonlyMap<string, RunningRecord>;
  /** Rollouts; without them the rollout endpoints answer 503. */
  rollouts?: RolloutControl;
  /** The boot servers sharing the state; without it, 503. */
  servers?: () => ServerList;
  /** Each machine's last failure report (STATE/failure-reports.json). */
  failureReports?: { get(mac: string): FailureReport | undefined };
  /** Writes need `Authorization: Bearer <adminToken>`; without a token every write is refused. */
  adminToken?: string;
  /** Clients allowed to read, as CIDRs. */
  readCidrs: readonly string[];
  /** Default 15 s: keeps proxies from closing an idle event stream. */
  heartbeatMs?: number;
  /** Default 64 KiB. */
  maxBodyBytes?: number;
  /** The cap on open event streams (default DEFAULT_MAX_EVENT_STREAMS); listeners that share one cap share the object. */
  eventStreams?: EventStreamSlots;
  /** When a client that does not read is dropped (defaults in event-stream.ts). */
  eventStreamLimits?: StreamLimits;
  /** Dropped and refused event streams are logged here, at most once a minute each. */
  logger?: Logger;
}
