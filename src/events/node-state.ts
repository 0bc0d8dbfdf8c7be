import type { BootEvent } from './boot-event.js';

/**
 * Where a machine is, from its events alone. `discovered`: seen, but no boot has started
 * (e.g. a DHCP packet that got no boot file). `offline` and "unknown to the inventory" are not
 * here: they need the inventory, see `nodeStatus`.
 */
export type NodePhase = 'discovered' | 'dhcp' | 'loading' | 'initramfs' | 'booted' | 'failed';

export type StepStatus = 'running' | 'ok' | 'retry' | 'failed';

/** One stage report's worth of a boot; times are the node's uptime, which queued reports keep right. */
export interface StageStep {
  readonly name: string;
  readonly status: StepStatus;
  readonly detail: string;
  readonly startUptimeMs?: number;
  readonly endUptimeMs?: number;
  readonly durationMs?: number;
  /** Server time of the last report about this step (when the node's uptime is unknown). */
  readonly reportedAt: number;
}

export interface BootRecord {
  /** Server time and seq of the event that started this boot. */
  readonly startedAt: number;
  readonly startSeq: number;
  /** DHCP (firmware PXE) or, without our DHCP, the node's first stage report. */
  readonly startedBy: 'dhcp' | 'report';
  /**
   * The DHCP transaction id of the exchange that started it (startedBy dhcp): with a shared
   * database every server records its own copy of one exchange's DISCOVER, each a new event.
   */
  readonly startXid?: string;
  readonly phase: Exclude<NodePhase, 'discovered'>;
  readonly firstTransferAt?: number;
  readonly lastTransferAt?: number;
  /** Server time at which the node's uptime was 0, estimated from its reports (see reduceNode). */
  readonly kernelStartAt?: number;
  readonly stages: readonly StageStep[];
  /** The stored image version this boot loads, from pinned HTTP paths or NBD export names. */
  readonly image?: { readonly name: string; readonly version: string };
  readonly failure?: { readonly stage: string; readonly cause: string };
  readonly endedAt?: number;
  /**
   * When this boot redeemed its secrets token, as its first proven report says (the report
   * endpoint checked the proof; src/identity/report-proof.ts). A proof of an earlier boot's key
   * (redeemed before this boot started) does not count. Absent: no proven report of this boot.
   */
  readonly keyedAt?: number;
  /** The report that ended this boot (booted or failed) was proven for this boot. */
  readonly endProven?: true;
  /** Our DHCP handed this boot a boot file (a firmware or iPXE exchange, not a running system's client). */
  readonly bootFile?: true;
}

export interface EventRef {
  readonly seq: number;
  readonly time: number;
  readonly kind: BootEvent['kind'];
  readonly name: string;
  readonly detail: string;
}

export interface NodeState {
  readonly mac: string;
  readonly phase: NodePhase;
  /** initramfs: the stage running now; failed: the stage that failed. */
  readonly stage?: string;
  /** failed: what the node said went wrong. */
  readonly cause?: string;
  readonly ip?: string;
  readonly lastEvent: EventRef;
  /** The latest boot; absent while the machine is only discovered. */
  readonly boot?: BootRecord;
  readonly bootCount: number;
  /** What the last successful boot runs: the report's `version` field, else the boot's image. */
  readonly booted?: { readonly image?: string; readonly version?: string; readonly at: number };
  /** The last DHCP DISCOVER/REQUEST, so a boot started by the reply begins at the request. */
  readonly lastDhcpRequest?: { readonly xid: string; readonly time: number; readonly seq: number };
  /**
   * Option 82 of its last relayed DHCP request: the switch port its relay saw it on, and
   * whether the DHCP responder trusted that relay to say so (only then may it name a node).
   */
  readonly relayAgent?: { readonly circuitId?: string; readonly remoteId?: string; readonly trusted: boolean };
  /** The inventory node (its key: MAC, or "host:NAME") its last DHCP request was taken for. */
  readonly node?: string;
}

/** /init's stages in order (initramfs/init); a report of one means the next is running. */
export const STAGE_ORDER = ['cmdline', 'modules', 'network', 'root', 'overlay', 'identity', 'handoff', 'switch_root'] as const;
/** Reports from inside a stage (root.sh) that name a step, not a stage. */
const SUBSTEP_OF: Readonly<Record<string, string>> = { fetched: 'root', verified: 'root' };

/**
 * The vendor class of the lease keeper the initrd leaves running in a booted root
 * (initramfs/lib/diskless/lease-keeper.sh): its DISCOVER, after a lease it could not renew,
 * is the running system asking again, not a new boot.
 */
export const LEASE_KEEPER_CLASS = 'Diskless-node';

const TERMINAL: ReadonlySet<NodePhase> = new Set(['booted', 'failed']);
const PAST_FIRMWARE: ReadonlySet<NodePhase> = new Set(['initramfs', 'booted', 'failed']);

/**
 * The next state of one machine after one event (pure). A new boot starts at:
 * - a DHCP OFFER or ACK carrying a boot file (only firmware PXE and iPXE get one) once the
 *   current boot is past loading: a reset during the initramfs or after booting;
 * - a DHCP DISCOVER after a boot ended (booted or failed), unless the booted root's lease keeper
 *   sent it, or any DISCOVER/REQUEST when the machine has no boot yet. Lease renewals of a
 *   booted system are REQUESTs and start nothing;
 * - a stage report when there is no boot, the boot ended, or the stage already finished in
 *   this boot (the machine rebooted without our DHCP, e.g. dhcp.mode off).
 */
export function reduceNode(prev: NodeState | undefined, e: BootEvent): NodeState | undefined {
  // A rollout's steps are the server's, not the machine's: they change no boot state.
  if (!e.mac || e.kind === 'rollout') return prev;
  let s: NodeState = prev ?? { mac: e.mac, phase: 'discovered', lastEvent: ref(e), bootCount: 0 };
  s = { ...s, lastEvent: ref(e), ...(e.ip && e.kind !== 'dhcp' ? { ip: e.ip } : {}) };
  switch (e.kind) {
    case 'dhcp':
      return onDhcp(s, e);
    case 'tftp':
    case 'http':
    case 'nbd':
      return onTransfer(s, e);
    case 'stage':
    case 'failed':
    case 'booted':
      return onReport(s, e);
    case 'alert':
      return s;
  }
}

function onDhcp(s: NodeState, e: BootEvent): NodeState {
  const isRequest = e.name === 'discover' || e.name === 'request';
  if (isRequest) s = { ...s, lastDhcpRequest: { xid: e.fields.xid ?? '', time: e.time, seq: e.seq } };
  if (isRequest) s = withRelayAgent(s, e);
  if (e.name === 'ack' && e.ip) s = { ...s, ip: e.ip };
  const phase = s.boot?.phase;
  const bootFileReply = (e.name === 'offer' || e.name === 'ack') && Boolean(e.fields.file);
  const req = s.lastDhcpRequest;
  const sameExchange = req !== undefined && req.xid === (e.fields.xid ?? '') && !isRequest;
  const startSeq = sameExchange ? req.seq : e.seq;
  // A booted system's own DHCP client (the initrd's lease keeper, say) starts a "boot" that gets
  // no boot file; the firmware's exchange that hands one out after it is the real boot's start.
  const beganWithoutBootFile = phase === 'dhcp' && s.boot?.bootFile !== true && s.boot?.startSeq !== startSeq
    && !(sameExchange && s.boot?.startXid === req.xid);
  const startsBoot =
    (bootFileReply && (phase === undefined || PAST_FIRMWARE.has(phase) || beganWithoutBootFile)) ||
    (e.name === 'discover' && phase !== undefined && TERMINAL.has(phase) && e.fields.vendorClass !== LEASE_KEEPER_CLASS) ||
    (isRequest && phase === undefined);
  const started = startsBoot ? startBoot(s, sameExchange ? req.time : e.time, startSeq, 'dhcp', e.fields.xid) : s;
  return bootFileReply && started.boot && started.boot.bootFile !== true ? { ...started, boot: { ...started.boot, bootFile: true } } : started;
}

/**
 * A request's option 82 replaces the recorded one; a request without it (a renewal sent
 * straight to the server) keeps it. The node it was taken for is the request's own, or none.
 */
function withRelayAgent(s: NodeState, e: BootEvent): NodeState {
  const { circuitId, remoteId, agentTrusted, node } = e.fields;
  const { node: _previous, ...rest } = s;
  const next: NodeState = { ...rest, ...(node !== undefined ? { node } : {}) };
  if (agentTrusted === undefined) return next;
  return {
    ...next,
    relayAgent: { ...(circuitId !== undefined ? { circuitId } : {}), ...(remoteId !== undefined ? { remoteId } : {}), trusted: agentTrusted === 'yes' },
  };
}

function onTransfer(s: NodeState, e: BootEvent): NodeState {
  const boot = s.boot;
  if (!boot || TERMINAL.has(boot.phase)) return s;
  const image = e.fields.image && e.fields.version ? { image: { name: e.fields.image, version: e.fields.version } } : {};
  const next: BootRecord = {
    ...boot,
    ...image,
    phase: boot.phase === 'dhcp' ? 'loading' : boot.phase,
    firstTransferAt: boot.firstTransferAt ?? e.time,
    ...(boot.phase === 'initramfs' ? {} : { lastTransferAt: e.time }),
  };
  return { ...s, boot: next, phase: next.phase };
}

function onReport(s: NodeState, e: BootEvent): NodeState {
  const status = stepStatus(e);
  const uptimeMs = reportUptimeMs(e);
  const current = s.boot;
  const repeated = current?.stages.some((st) => st.name === e.name && (st.status === 'ok' || st.status === 'failed'));
  if (!current || TERMINAL.has(current.phase) || repeated) {
    // No DHCP told us where this boot began: the node's own clock does.
    s = startBoot(s, uptimeMs === undefined ? e.time : e.time - uptimeMs, e.seq, 'initramfs');
  }
  const started = s.boot!;
  const provenAt = provenFor(e, started);
  const boot: BootRecord = provenAt === undefined || started.keyedAt !== undefined ? started : { ...started, keyedAt: provenAt };
  const endProven = provenAt === undefined ? {} : { endProven: true as const };
  const kernelStartAt = uptimeMs === undefined ? boot.kernelStartAt : Math.min(boot.kernelStartAt ?? Infinity, e.time - uptimeMs);
  const stages = upsertStep(boot.stages, e, status, uptimeMs);
  if (e.kind === 'failed') {
    const failure = { stage: e.name, cause: e.detail };
    const ended: BootRecord = { ...boot, stages, phase: 'failed', failure, endedAt: e.time, ...endProven, ...(kernelStartAt === undefined ? {} : { kernelStartAt }) };
    return { ...s, boot: ended, phase: 'failed', stage: e.name, cause: e.detail };
  }
  if (e.kind === 'booted') {
    const ended: BootRecord = { ...boot, stages, phase: 'booted', endedAt: e.time, ...endProven, ...(kernelStartAt === undefined ? {} : { kernelStartAt }) };
    const version = e.fields.version ?? boot.image?.version;
    const image = e.fields.image ?? boot.image?.name;
    const { stage: _stage, cause: _cause, ...rest } = s;
    return { ...rest, boot: ended, phase: 'booted', booted: { at: e.time, ...(image ? { image } : {}), ...(version ? { version } : {}) } };
  }
  const next: BootRecord = { ...boot, stages, phase: 'initramfs', ...(kernelStartAt === undefined ? {} : { kernelStartAt }) };
  const { cause: _cause, ...rest } = s;
  return { ...rest, boot: next, phase: 'initramfs', stage: runningStage(e.name, status) };
}

/**
 * The redemption time a report's checked proof names (the `proven` field only the report
 * endpoint sets), when it is this boot's: a key redeemed before the boot began is an earlier
 * boot's, and its reports (a recording replayed) prove nothing about this one.
 */
function provenFor(e: BootEvent, boot: BootRecord): number | undefined {
  const v = e.fields.proven;
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  const at = Number(v);
  return at >= boot.startedAt ? at : undefined;
}

function startBoot(s: NodeState, at: number, seq: number, phase: BootRecord['phase'], xid?: string): NodeState {
  const { stage: _stage, cause: _cause, ...rest } = s;
  const startXid = phase === 'dhcp' && xid !== undefined ? { startXid: xid } : {};
  return { ...rest, phase, bootCount: s.bootCount + 1, boot: { startedAt: at, startSeq: seq, startedBy: phase === 'dhcp' ? 'dhcp' : 'report', ...startXid, phase, stages: [] } };
}

/**
 * Steps kept per boot. /init reports 11 names (STAGE_ORDER, its substeps, booted); stage names
 * come from an unauthenticated POST, so a boot's list must not grow with every new word.
 */
export const MAX_STEPS_PER_BOOT = 32;

function upsertStep(stages: readonly StageStep[], e: BootEvent, status: StepStatus, uptimeMs: number | undefined): readonly StageStep[] {
  const i = stages.findIndex((st) => st.name === e.name);
  if (i < 0 && stages.length >= MAX_STEPS_PER_BOOT) return stages;
  const old = i < 0 ? undefined : stages[i];
  const previousEnd = [...stages].reverse().find((st) => st.endUptimeMs !== undefined && st.name !== e.name)?.endUptimeMs;
  let step: StageStep;
  if (status === 'running' || status === 'retry') {
    const start = old?.startUptimeMs ?? (status === 'running' ? uptimeMs : previousEnd);
    step = { name: e.name, status, detail: e.detail, reportedAt: e.time, ...(start === undefined ? {} : { startUptimeMs: start }) };
  } else {
    // Reports come at the end of a stage: its start is the end minus its duration, else where
    // it was seen starting, else where the stage before it ended (stages run one after another).
    const start = uptimeMs !== undefined && e.durationMs !== undefined ? uptimeMs - e.durationMs : (old?.startUptimeMs ?? previousEnd);
    const duration = e.durationMs ?? (start !== undefined && uptimeMs !== undefined ? uptimeMs - start : undefined);
    step = {
      name: e.name,
      status,
      detail: e.detail,
      reportedAt: e.time,
      ...(start === undefined ? {} : { startUptimeMs: start }),
      ...(uptimeMs === undefined ? {} : { endUptimeMs: uptimeMs }),
      ...(duration === undefined ? {} : { durationMs: duration }),
    };
  }
  const out = [...stages];
  if (i < 0) out.push(step);
  else out[i] = step;
  return out;
}

function stepStatus(e: BootEvent): StepStatus {
  if (e.kind === 'failed') return 'failed';
  if (e.kind === 'booted') return 'ok';
  const status = e.fields.status;
  if (status === 'started') return 'running';
  if (status === 'retry') return 'retry';
  return 'ok';
}

/** /init sends uptime_ms; the booted system's unit sends uptime_s. */
function reportUptimeMs(e: BootEvent): number | undefined {
  const ms = e.fields.uptime_ms;
  if (ms !== undefined && /^\d+$/.test(ms)) return Number(ms);
  const s = e.fields.uptime_s;
  if (s !== undefined && /^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  return undefined;
}

function runningStage(name: string, status: StepStatus): string {
  const stage = SUBSTEP_OF[name] ?? name;
  if (status !== 'ok' || SUBSTEP_OF[name]) return stage;
  const i = (STAGE_ORDER as readonly string[]).indexOf(stage);
  return i >= 0 && i < STAGE_ORDER.length - 1 ? STAGE_ORDER[i + 1]! : stage;
}

function ref(e: BootEvent): EventRef {
  return { seq: e.seq, time: e.time, kind: e.kind, name: e.name, detail: e.detail };
}

/** What changed for the boot counters between two states of one machine. */
export interface BootTransition {
  started: boolean;
  booted: boolean;
  failedStage?: string;
}

export function bootTransition(prev: NodeState | undefined, next: NodeState | undefined): BootTransition {
  const started = (next?.bootCount ?? 0) > (prev?.bootCount ?? 0);
  // Within one boot a phase is entered once; a new boot may end in the same event that began it.
  const booted = next?.phase === 'booted' && (started || prev?.phase !== 'booted');
  const failed = next?.phase === 'failed' && (started || prev?.phase !== 'failed');
  return { started, booted, ...(failed && next?.stage ? { failedStage: next.stage } : {}) };
}

export interface NodeStatesOptions {
  /**
   * Machines whose state is always kept (the inventory's nodes, a set the admin bounds).
   * Asked at each event, so a node added or removed later is treated accordingly from its next event.
   */
  isListed?: (mac: string) => boolean;
  /**
   * States kept for other machines (strangers on the LAN, spoofed MACs): past this many, the
   * one seen longest ago is forgotten. Default DEFAULT_MAX_UNLISTED_STATES.
   */
  maxUnlisted?: number;
}

/** Far above any LAN's unknown machines, far below what would strain memory (a state is ~1-2 KB). */
export const DEFAULT_MAX_UNLISTED_STATES = 10_000;

/**
 * Each machine's latest events kept for reordering (references to the store's objects): a
 * peer's event that arrives late takes its place among these by its own time. Peers' events
 * arrive within milliseconds on a LAN, and within a few events of their place after a
 * database outage of a booting node; an event older than all of them changes no state.
 */
export const REORDER_WINDOW = 16;

/** The latest events of one machine, in the order they apply, and the state before the first. */
interface Recent {
  base: NodeState | undefined;
  events: BootEvent[];
}

/**
 * Where `e` goes among `events` (applied in this order): after every event at or before its
 * time, and after every event of its own server, whose own order is its arrival order (one
 * server's events may carry times a clock step set back). Events without a server (one
 * server, files) are never reordered. `events.length` when it comes last.
 */
function placeOf(events: readonly BootEvent[], e: BootEvent): number {
  const server = e.fields.server;
  if (server === undefined) return events.length;
  let at = 0;
  for (let i = events.length - 1; i >= 0; i--) {
    const o = events[i]!;
    if (o.time <= e.time || o.fields.server === server || o.fields.server === undefined) {
      at = i + 1;
      break;
    }
  }
  return at;
}

/**
 * Every machine's state, kept current by `apply`. Inventory nodes are never dropped; any
 * other machine is, once more than `maxUnlisted` are known, starting with the one whose last
 * event is oldest, so a flood of made-up MACs cannot grow memory without bound.
 */
export class NodeStates {
  readonly #listed = new Map<string, NodeState>();
  /** Ordered by last event, oldest first: re-inserted on every event. */
  readonly #unlisted = new Map<string, NodeState>();
  readonly #isListed: (mac: string) => boolean;
  readonly #maxUnlisted: number;
  readonly #recent = new Map<string, Recent>();
  #evicted = 0;

  constructor(opts: NodeStatesOptions = {}) {
    this.#isListed = opts.isListed ?? (() => false);
    this.#maxUnlisted = Math.max(1, opts.maxUnlisted ?? DEFAULT_MAX_UNLISTED_STATES);
  }

  /**
   * Takes in one event. Events apply in the order of their own time across servers: one from
   * another server that arrives after events younger than it (a peer's events travel through
   * the database) is put in its place among the machine's latest REORDER_WINDOW events and
   * those are applied again from there, so a late DHCP reply or stage report never moves a
   * node's state back (a late boot-file OFFER starting a new boot after `booted`, say).
   */
  apply(e: BootEvent): BootTransition {
    if (!e.mac) return { started: false, booted: false };
    const prev = this.get(e.mac);
    if (e.fields.server === undefined) {
      // One server (no shared database): events arrive in their order; nothing is kept for reordering.
      this.#recent.delete(e.mac);
      const next = reduceNode(prev, e);
      if (next) this.#put(e.mac, next);
      return bootTransition(prev, next);
    }
    let recent = this.#recent.get(e.mac);
    if (!recent) {
      recent = { base: prev, events: [] };
      this.#recent.set(e.mac, recent);
    }
    const at = placeOf(recent.events, e);
    let next: NodeState | undefined;
    if (at === recent.events.length) {
      next = reduceNode(prev, e);
      recent.events.push(e);
    } else if (at === 0 && recent.events.length >= REORDER_WINDOW) {
      // Older than everything kept: its place is no longer known; the store still has it.
      return { started: false, booted: false };
    } else {
      recent.events.splice(at, 0, e);
      next = recent.events.reduce<NodeState | undefined>((s, ev) => reduceNode(s, ev), recent.base);
    }
    while (recent.events.length > REORDER_WINDOW) recent.base = reduceNode(recent.base, recent.events.shift()!);
    if (next) this.#put(e.mac, next);
    return bootTransition(prev, next);
  }

  get(mac: string): NodeState | undefined {
    return this.#listed.get(mac) ?? this.#unlisted.get(mac);
  }

  all(): NodeState[] {
    return [...this.#listed.values(), ...this.#unlisted.values()];
  }

  get size(): number {
    return this.#listed.size + this.#unlisted.size;
  }

  /** States of machines outside the inventory forgotten to stay within maxUnlisted. */
  get evicted(): number {
    return this.#evicted;
  }

  #put(mac: string, state: NodeState): void {
    this.#listed.delete(mac);
    this.#unlisted.delete(mac);
    if (this.#isListed(mac)) {
      this.#listed.set(mac, state);
      return;
    }
    this.#unlisted.set(mac, state);
    for (const oldest of this.#unlisted.keys()) {
      if (this.#unlisted.size <= this.#maxUnlisted) break;
      this.#unlisted.delete(oldest);
      this.#recent.delete(oldest);
      this.#evicted += 1;
    }
  }
}

/** What the dashboard shows: inventory nodes never seen are offline; strangers are discovered until they boot. */
export type NodeStatus = 'offline' | NodePhase;

export function nodeStatus(state: NodeState | undefined): NodeStatus {
  return state ? state.phase : 'offline';
}
