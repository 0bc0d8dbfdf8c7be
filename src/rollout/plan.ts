/**
 * A rollout as a pure state machine: the plan (canaries, then batches), each node's progress
 * and the steps the server must take (pin a version, reboot a node, record an event). The
 * server (rollout-runner.ts) feeds it what the boot timeline says and carries out its actions;
 * nothing here touches a clock, a file or a socket, so every case is a plain test.
 */

/** How many nodes a batch moves: a count, or a percentage of every node of the rollout. */
export type BatchSize = { readonly count: number } | { readonly percent: number };

export interface RolloutSpec {
  readonly image: string;
  readonly version: string;
  /** Nodes moved first, alone; any failure among them stops the rollout. */
  readonly canary: number;
  readonly batch: BatchSize;
  /** Failures tolerated after the canaries; one more stops the rollout. */
  readonly maxFailed: number;
  /** How long a node may take from its reboot to "booted" on the new version. */
  readonly timeoutSec: number;
}

/**
 * pending: not moved yet. waiting: pinned to the new version and rebooted, its boot watched.
 * done: booted the new version. failed: its boot failed (on its way back to `previous`).
 * rolling-back: pinned to the previous version again and rebooted. rolled-back: booted it.
 * rollback-failed: the previous version did not boot either. skipped: the rollout ended first.
 */
export type RolloutNodeStatus = 'pending' | 'waiting' | 'done' | 'rolling-back' | 'rolled-back' | 'rollback-failed' | 'skipped';

export interface RolloutNode {
  readonly mac: string;
  /** Host name, or the MAC. */
  readonly name: string;
  /** 0: the canaries; 1…: the batches. */
  readonly wave: number;
  /** The pin the node had before (null: it followed the image's published version). */
  readonly previousPin: string | null;
  /** The version it ran before: where a rollback sends it. */
  readonly previousVersion: string;
  readonly status: RolloutNodeStatus;
  /** Only boots that started after this event seq count: the one the rollout caused. */
  readonly afterSeq?: number;
  /** Milliseconds since the epoch by which the watched boot must reach "booted". */
  readonly deadline?: number;
  /** Why its boot of the new version failed: the stage and what the node (or the server) said. */
  readonly failure?: { readonly stage: string; readonly cause: string };
  /** Why its rollback failed. */
  readonly rollbackFailure?: { readonly stage: string; readonly cause: string };
}

/**
 * running: moving nodes. paused: no new wave starts; nodes in flight are still watched.
 * stopped: past max-failed (or a canary failed): no new wave; failed nodes go back.
 * aborted: stopped by the admin. completed: every wave went through.
 */
export type RolloutStatus = 'running' | 'paused' | 'stopped' | 'aborted' | 'completed';

export interface Rollout {
  readonly id: string;
  readonly spec: RolloutSpec;
  /** Whether the rollout covers every node whose profile boots the image. */
  readonly wholeImage: boolean;
  readonly createdAt: number;
  readonly status: RolloutStatus;
  /** The wave in flight (or last started); -1 before the first. */
  readonly wave: number;
  readonly waves: number;
  readonly nodes: readonly RolloutNode[];
  /** One line: why it stopped, or how it ended. */
  readonly message?: string;
  readonly endedAt?: number;
}

/** What the runner must do, in order. */
export type RolloutAction =
  /** Boot scripts of `mac` name `version` of the image (null: the published version again). */
  | { readonly kind: 'pin'; readonly mac: string; readonly version: string | null }
  /** Power-cycle the node (or wait for it to reboot when it has no BMC). */
  | { readonly kind: 'reboot'; readonly mac: string }
  /** A step for the event stream; `mac` when it concerns one node. */
  | { readonly kind: 'event'; readonly name: string; readonly detail: string; readonly mac?: string }
  /** The rollout ended well and covered the whole image: publish the version, drop the pins. */
  | { readonly kind: 'finish' };

/** What the planner is told. */
export type RolloutInput =
  /** Time passed, or the runner wants the next wave started: deadlines are checked. */
  | { readonly kind: 'tick' }
  /** A boot of `mac` started at event `bootSeq` reached "booted" running `version`. */
  | { readonly kind: 'booted'; readonly mac: string; readonly bootSeq: number; readonly version: string | undefined }
  /** A boot of `mac` started at `bootSeq` failed (a stage report or failure report). */
  | { readonly kind: 'failed'; readonly mac: string; readonly bootSeq: number; readonly stage: string; readonly cause: string }
  /** The reboot itself failed (the BMC refused): the node never left where it was. */
  | { readonly kind: 'reboot-failed'; readonly mac: string; readonly cause: string }
  | { readonly kind: 'pause' }
  | { readonly kind: 'resume' }
  | { readonly kind: 'abort' };

export interface RolloutContext {
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** The newest event seq: boots starting after it are the ones the steps taken now cause. */
  readonly seq: number;
  /** Where a node's current boot is, for a timeout's message (e.g. "root (running)"). */
  readonly whereIs?: (mac: string) => string | undefined;
}

export interface RolloutStep {
  readonly rollout: Rollout;
  readonly actions: RolloutAction[];
}

export interface PlannedNode {
  readonly mac: string;
  readonly name: string;
  readonly previousPin: string | null;
  readonly previousVersion: string;
}

/** The nodes of each batch after the canaries: a count, or a percentage of `total` rounded up; at least 1. */
export function batchCount(batch: BatchSize, total: number): number {
  const n = 'count' in batch ? batch.count : Math.ceil((batch.percent * total) / 100);
  return Math.max(1, Math.floor(n));
}

/** The waves of `total` nodes: the canaries (wave 0, possibly empty), then batches. */
export function planWaves(total: number, canary: number, batch: BatchSize): number[] {
  const waves: number[] = [];
  const canaries = Math.min(Math.max(0, canary), total);
  const size = batchCount(batch, total);
  for (let i = 0; i < total; i++) waves.push(i < canaries ? 0 : 1 + Math.floor((i - canaries) / size));
  return waves;
}

/** A new rollout over `nodes`, in their order (nothing is moved until the first tick). */
export function newRollout(id: string, spec: RolloutSpec, nodes: readonly PlannedNode[], now: number, wholeImage: boolean): Rollout {
  const waves = planWaves(nodes.length, spec.canary, spec.batch);
  return {
    id,
    spec,
    wholeImage,
    createdAt: now,
    status: 'running',
    wave: -1,
    waves: waves.length === 0 ? 0 : Math.max(...waves) + 1,
    nodes: nodes.map((n, i) => ({ ...n, wave: waves[i]!, status: 'pending' as const })),
  };
}

const IN_FLIGHT: ReadonlySet<RolloutNodeStatus> = new Set(['waiting', 'rolling-back']);

/** No node is waiting for a boot: nothing more will happen by itself. */
export function settled(r: Rollout): boolean {
  return !r.nodes.some((n) => IN_FLIGHT.has(n.status));
}

/** Whether the rollout can still change (a new one must wait until it cannot). */
export function active(r: Rollout): boolean {
  return r.status === 'running' || r.status === 'paused' || !settled(r);
}

/** Nodes whose boot of the new version failed. */
export function failedNodes(r: Rollout): RolloutNode[] {
  return r.nodes.filter((n) => n.failure !== undefined);
}

/** The next state and the steps to take (pure). */
export function advance(r: Rollout, input: RolloutInput, ctx: RolloutContext): RolloutStep {
  const m = new Mutable(r, ctx);
  switch (input.kind) {
    case 'tick':
      break;
    case 'booted':
      m.booted(input.mac, input.bootSeq, input.version);
      break;
    case 'failed':
      m.failed(input.mac, input.bootSeq, input.stage, input.cause);
      break;
    case 'reboot-failed':
      m.rebootFailed(input.mac, input.cause);
      break;
    case 'pause':
      if (m.r.status === 'running') m.setStatus('paused', 'paused by the admin');
      break;
    case 'resume':
      if (m.r.status === 'paused') m.setStatus('running', 'resumed by the admin');
      break;
    case 'abort':
      if (m.r.status === 'running' || m.r.status === 'paused') m.end('aborted', 'aborted by the admin');
      break;
  }
  m.expire();
  m.proceed();
  return { rollout: m.r, actions: m.actions };
}

class Mutable {
  readonly actions: RolloutAction[] = [];

  constructor(
    public r: Rollout,
    private readonly ctx: RolloutContext,
  ) {}

  #node(mac: string): RolloutNode | undefined {
    return this.r.nodes.find((n) => n.mac === mac);
  }

  #set(mac: string, change: Partial<RolloutNode>, drop: ReadonlyArray<keyof RolloutNode> = []): void {
    this.r = {
      ...this.r,
      nodes: this.r.nodes.map((n) => {
        if (n.mac !== mac) return n;
        const next: Record<string, unknown> = { ...n, ...change };
        for (const k of drop) delete next[k];
        return next as unknown as RolloutNode;
      }),
    };
  }

  #event(name: string, detail: string, mac?: string): void {
    this.actions.push({ kind: 'event', name, detail, ...(mac !== undefined ? { mac } : {}) });
  }

  #counts(boot: { readonly afterSeq?: number }, bootSeq: number): boolean {
    return boot.afterSeq === undefined || bootSeq > boot.afterSeq;
  }

  setStatus(status: RolloutStatus, message: string): void {
    this.r = { ...this.r, status, message };
    this.#event(status === 'running' ? 'resumed' : status, message);
  }

  end(status: 'stopped' | 'aborted' | 'completed', message: string): void {
    const skipped = this.r.nodes.filter((n) => n.status === 'pending').length;
    this.r = {
      ...this.r,
      status,
      message: skipped > 0 ? `${message}; ${skipped} node(s) never moved` : message,
      endedAt: this.ctx.now,
      nodes: this.r.nodes.map((n) => (n.status === 'pending' ? { ...n, status: 'skipped' as const } : n)),
    };
    this.#event(status, this.r.message!);
  }

  booted(mac: string, bootSeq: number, version: string | undefined): void {
    const n = this.#node(mac);
    if (!n || !IN_FLIGHT.has(n.status) || !this.#counts(n, bootSeq)) return;
    const v = this.r.spec.version;
    if (n.status === 'waiting') {
      if (version === v) {
        this.#set(mac, { status: 'done' }, ['deadline']);
        this.#event('node-done', `${n.name} booted ${this.r.spec.image}@${v}`, mac);
      } else {
        this.#fail(n, 'booted', `booted ${version ?? 'an unknown version'}, not ${v}`);
      }
    } else if (version === n.previousVersion) {
      this.#set(mac, { status: 'rolled-back' }, ['deadline']);
      this.#event('node-rolled-back', `${n.name} booted ${this.r.spec.image}@${n.previousVersion} again`, mac);
    } else {
      this.#rollbackFailed(n, 'booted', `booted ${version}, not ${n.previousVersion}`);
    }
  }

  failed(mac: string, bootSeq: number, stage: string, cause: string): void {
    const n = this.#node(mac);
    if (!n || !IN_FLIGHT.has(n.status) || !this.#counts(n, bootSeq)) return;
    if (n.status === 'waiting') this.#fail(n, stage, cause);
    else this.#rollbackFailed(n, stage, cause);
  }

  rebootFailed(mac: string, cause: string): void {
    const n = this.#node(mac);
    if (!n || !IN_FLIGHT.has(n.status)) return;
    if (n.status === 'waiting') this.#fail(n, 'power', cause);
    else this.#rollbackFailed(n, 'power', cause);
  }

  /** Deadlines passed: the boot never got to "booted" in time. */
  expire(): void {
    for (const n of this.r.nodes) {
      if (!IN_FLIGHT.has(n.status) || n.deadline === undefined || this.ctx.now < n.deadline) continue;
      const where = this.ctx.whereIs?.(n.mac);
      const cause = `not booted within ${this.r.spec.timeoutSec} s${where ? ` (last seen: ${where})` : ' (no boot seen)'}`;
      if (n.status === 'waiting') this.#fail(n, 'timeout', cause);
      else this.#rollbackFailed(n, 'timeout', cause);
    }
  }

  /**
   * A node that failed the new version goes back at once, whatever max-failed says: it is
   * pinned to the version it ran and rebooted into it. Past max-failed, or on a canary, the
   * rollout stops.
   */
  #fail(n: RolloutNode, stage: string, cause: string): void {
    const failure = { stage, cause };
    this.#event('node-failed', `${n.name} failed ${this.r.spec.image}@${this.r.spec.version} in stage ${stage}: ${cause}`, n.mac);
    this.#set(n.mac, { status: 'rolling-back', failure, afterSeq: this.ctx.seq, deadline: this.ctx.now + this.r.spec.timeoutSec * 1000 });
    this.actions.push({ kind: 'pin', mac: n.mac, version: n.previousPin });
    this.actions.push({ kind: 'reboot', mac: n.mac });
    this.#event('node-rollback', `${n.name} goes back to ${this.r.spec.image}@${n.previousVersion}`, n.mac);
    if (this.r.status !== 'running' && this.r.status !== 'paused') return;
    const failed = failedNodes(this.r).length;
    if (n.wave === 0) this.end('stopped', `canary ${n.name} failed in stage ${stage}: ${cause}`);
    else if (failed > this.r.spec.maxFailed) this.end('stopped', `${failed} node(s) failed, more than --max-failed ${this.r.spec.maxFailed}; last: ${n.name} in stage ${stage}: ${cause}`);
  }

  #rollbackFailed(n: RolloutNode, stage: string, cause: string): void {
    this.#set(n.mac, { status: 'rollback-failed', rollbackFailure: { stage, cause } }, ['deadline']);
    this.#event('node-rollback-failed', `${n.name} did not boot ${this.r.spec.image}@${n.previousVersion} again, in stage ${stage}: ${cause}`, n.mac);
  }

  /** Starts the next wave once the current one has settled, or ends the rollout. */
  proceed(): void {
    if (this.r.status !== 'running') return;
    if (this.r.nodes.some((n) => n.status === 'waiting')) return;
    let next = this.r.wave + 1;
    // No canaries (--canary 0) leaves wave 0 empty.
    while (next < this.r.waves && !this.r.nodes.some((n) => n.wave === next)) next++;
    if (next >= this.r.waves) {
      if (!settled(this.r)) return;
      const failed = failedNodes(this.r).length;
      this.end('completed', failed === 0 ? `${this.r.nodes.length} node(s) run ${this.r.spec.image}@${this.r.spec.version}` : `${this.r.nodes.length - failed} node(s) run ${this.r.spec.image}@${this.r.spec.version}, ${failed} failed and went back`);
      if (failed === 0 && this.r.wholeImage) this.actions.push({ kind: 'finish' });
      return;
    }
    const members = this.r.nodes.filter((n) => n.wave === next);
    this.r = { ...this.r, wave: next };
    this.#event('wave', `${next === 0 ? 'canaries' : `batch ${next}`}: ${members.map((n) => n.name).join(', ')}`);
    for (const n of members) {
      this.#set(n.mac, { status: 'waiting', afterSeq: this.ctx.seq, deadline: this.ctx.now + this.r.spec.timeoutSec * 1000 });
      this.actions.push({ kind: 'pin', mac: n.mac, version: this.r.spec.version });
      this.actions.push({ kind: 'reboot', mac: n.mac });
    }
  }
}
