import { randomBytes } from 'node:crypto';
import type { DisklessConfig, NodeConfig } from '../config/types.js';
import { DisklessError } from '../errors/diskless-error.js';
import { readStateFile, StateFileWriter, type StateFileFormat } from '../files/state-file.js';
import type { BootEvent, NewBootEvent } from '../events/boot-event.js';
import type { BootRecord, NodeState } from '../events/node-state.js';
import { STORE_VERSION_PATTERN } from '../images/store/image-store.js';
import type { VersionPinStore } from '../images/store/version-pins.js';
import { nullLogger, type Logger } from '../log/logger.js';
import { findNode, DEFAULT_POWER_PARALLEL, targetOf } from '../power/power.js';
import { normalizeMac } from '../net/mac.js';
import { ipmiPower, type IpmiRunner } from '../power/ipmi.js';
import { active, advance, newRollout, type BatchSize, type PlannedNode, type Rollout, type RolloutAction, type RolloutInput, type RolloutSpec } from './plan.js';

/** A version pin: `mac` boots `image`@`version` instead of the published version. */
export interface VersionPinRow {
  mac: string;
  /** The inventory node's host name, when the MAC is an inventory node's. */
  node?: string;
  image: string;
  version: string;
  /** When it was set (ISO 8601). */
  since: string;
  /** Who set it, e.g. "rollout 20260101-120000-ab12". */
  by: string;
}

/** What `diskless rollout IMAGE VERSION …` asks for. */
export interface RolloutRequest {
  image: string;
  version: string;
  /** Host names or MACs; none (and no profile): every node whose profile boots the image. */
  nodes?: readonly string[];
  profile?: string;
  canary?: number;
  batch?: BatchSize;
  maxFailed?: number;
  timeoutSec?: number;
}

export const ROLLOUT_DEFAULTS = { canary: 1, batch: { percent: 10 } as BatchSize, maxFailed: 0, timeoutSec: 600 } as const;

/** Finished rollouts kept for `rollout status` and the dashboard. */
const HISTORY = 20;

/** The image store's part a rollout uses (ImageStore satisfies it). */
export interface RolloutImages {
  show(name: string, version?: string): Promise<{ version: string }>;
  resolve(name: string): Promise<{ version: string }>;
  publish(name: string, version: string): Promise<unknown>;
}

interface RolloutFile {
  current: Rollout | null;
  history: Rollout[];
}

function checkRollout(r: unknown, where: string): Rollout {
  const x = r as Partial<Rollout> | null;
  if (typeof x !== 'object' || x === null || typeof x.id !== 'string' || typeof x.status !== 'string' || !Array.isArray(x.nodes) || typeof x.spec !== 'object' || x.spec === null) {
    throw new Error(`${where} is not a rollout`);
  }
  for (const n of x.nodes as unknown[]) {
    const m = n as Partial<Rollout['nodes'][number]> | null;
    if (typeof m?.mac !== 'string' || typeof m.status !== 'string' || typeof m.wave !== 'number') throw new Error(`${where} has a node that is not {mac, status, wave}`);
  }
  return x as Rollout;
}

/** rollouts.json: `{ "format": 1, "current": rollout|null, "history": [rollout…] }`. */
const ROLLOUT_FILE: StateFileFormat<RolloutFile> = {
  what: 'rollouts',
  version: 1,
  remedy: 'fix or remove it (a rollout under way is then forgotten; its pins stay in version-pins.json)',
  decode(doc) {
    const history = doc.history ?? [];
    if (!Array.isArray(history)) throw new Error('"history" is not a list');
    return {
      current: doc.current === null || doc.current === undefined ? null : checkRollout(doc.current, '"current"'),
      history: history.map((h, i) => checkRollout(h, `history[${i}]`)),
    };
  },
  encode: (f) => ({ current: f.current, history: f.history }),
};

export function rolloutsPath(stateDir: string): string {
  return `${stateDir}/rollouts.json`;
}

export interface RolloutRunnerOptions {
  path: string;
  config: () => DisklessConfig;
  images: RolloutImages;
  pins: VersionPinStore;
  /** Node states, as the timeline has them. */
  states: { get(mac: string): NodeState | undefined };
  events: { subscribe(listener: (e: BootEvent) => void): () => void; readonly lastSeq: number };
  /** Appends an event to the boot event stream. */
  record: (e: NewBootEvent) => void;
  logger?: Logger;
  now?: () => number;
  /** How often deadlines are checked (default 1 s). */
  tickMs?: number;
  /** ipmitool runner (tests wrap it). */
  ipmi?: IpmiRunner;
  /** BMCs power-cycled at once (default DEFAULT_POWER_PARALLEL). */
  powerParallel?: number;
}

/**
 * Runs rollouts in the server: one at a time, its state in STATE/rollouts.json (written through
 * state-file.ts before each step is carried out, so a restart resumes where it was), driven by
 * the boot timeline (a node's state after each of its events), a clock for deadlines, and the
 * admin's pause, resume and abort. The planner (plan.ts) decides; this carries the steps out:
 * version pins (awaited on disk before the node is rebooted), events, power cycles through the
 * node's BMC (at most `powerParallel` at once) or, without one, waiting for the node to reboot.
 */
export class RolloutRunner {
  readonly #o: RolloutRunnerOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  #state: RolloutFile = { current: null, history: [] };
  readonly #file: StateFileWriter<RolloutFile>;
  /** Inputs are applied one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #powerInFlight = 0;
  readonly #powerWaiting: Array<() => void> = [];
  #closed = false;

  private constructor(o: RolloutRunnerOptions) {
    this.#o = o;
    this.#log = (o.logger ?? nullLogger).child({ service: 'rollout' });
    this.#now = o.now ?? Date.now;
    this.#file = new StateFileWriter({ path: o.path, format: ROLLOUT_FILE, snapshot: () => this.#state, logger: this.#log });
  }

  /** Reads STATE/rollouts.json (a file that cannot be read is refused: the server does not start). */
  static async open(o: RolloutRunnerOptions): Promise<RolloutRunner> {
    const runner = new RolloutRunner(o);
    runner.#state = (await readStateFile(o.path, ROLLOUT_FILE)) ?? { current: null, history: [] };
    return runner;
  }

  /**
   * Follows the boot timeline and the clock, and resumes a rollout under way; called once the
   * boot services listen, so a node rebooted now finds them.
   */
  run(): void {
    if (this.#timer || this.#closed) return;
    this.#unsubscribe = this.#o.events.subscribe((e) => {
      // The store tells listeners before the node states have applied the event.
      if (e.mac !== undefined && e.kind !== 'rollout') setImmediate(() => this.#observe(e.mac!));
    });
    this.#timer = setInterval(() => this.#input({ kind: 'tick' }), this.#o.tickMs ?? 1000);
    this.#timer.unref();
    const r = this.#state.current;
    if (r && active(r)) {
      this.#log.log('info', 'rollout resumed', { rollout: r.id, status: r.status });
      // Boots that ended while the server was down were replayed into the node states.
      for (const n of r.nodes) this.#observe(n.mac);
      this.#input({ kind: 'tick' });
    }
  }

  /** The rollout under way or the last one, and the ones before it (newest first). */
  list(): { current: Rollout | null; history: readonly Rollout[] } {
    return { current: this.#state.current, history: this.#state.history };
  }

  get(id: string): Rollout | undefined {
    if (this.#state.current?.id === id) return this.#state.current;
    return this.#state.history.find((r) => r.id === id);
  }

  /** Plans and starts a rollout; refused while another one can still change. */
  async start(req: RolloutRequest): Promise<Rollout> {
    let started: Rollout | undefined;
    await this.#serial(async () => {
      const cur = this.#state.current;
      if (cur && active(cur)) throw new DisklessError('DL_ROLLOUT', `Cannot start a rollout: rollout ${cur.id} (${cur.spec.image}@${cur.spec.version}) is ${cur.status}${cur.status === 'stopped' || cur.status === 'aborted' ? ' and still watching nodes it sent back' : ''}; pause it, abort it or wait for it to end`);
      const spec = await this.#spec(req);
      const { nodes, wholeImage } = await this.#plan(req, spec);
      const id = rolloutId(this.#now());
      const r = newRollout(id, spec, nodes, this.#now(), wholeImage);
      this.#state = { current: r, history: cur ? [cur, ...this.#state.history].slice(0, HISTORY) : this.#state.history };
      this.#emit(r, { kind: 'event', name: 'started', detail: `${spec.image}@${spec.version} to ${nodes.length} node(s) in ${r.waves} wave(s): canary ${spec.canary}, batch ${'count' in spec.batch ? spec.batch.count : `${spec.batch.percent}%`}, max failed ${spec.maxFailed}, timeout ${spec.timeoutSec} s` });
      await this.#step(r, { kind: 'tick' });
      started = this.#state.current!;
    });
    return started!;
  }

  /** pause, resume or abort the rollout `id` (the current one). */
  async control(id: string, what: 'pause' | 'resume' | 'abort'): Promise<Rollout> {
    let out: Rollout | undefined;
    await this.#serial(async () => {
      const r = this.#state.current;
      if (!r || r.id !== id) {
        if (this.get(id)) throw new DisklessError('DL_ROLLOUT', `Cannot ${what} rollout ${id}: it has ended`);
        throw new DisklessError('DL_ROLLOUT_NOT_FOUND', `No rollout ${id} (diskless rollout status lists them)`);
      }
      const allowed = what === 'pause' ? r.status === 'running' : what === 'resume' ? r.status === 'paused' : r.status === 'running' || r.status === 'paused';
      if (!allowed) throw new DisklessError('DL_ROLLOUT', `Cannot ${what} rollout ${id}: it is ${r.status}`);
      await this.#step(r, { kind: what });
      out = this.#state.current!;
    });
    return out!;
  }

  /** The version pins (of `image`, or all), by MAC, with the inventory's host name. */
  pins(image?: string): VersionPinRow[] {
    const cfg = this.#o.config();
    const rows: VersionPinRow[] = [];
    for (const [mac, p] of this.#o.pins.all()) {
      if (image !== undefined && p.image !== image) continue;
      const name = cfg.nodes.find((n) => n.mac === mac)?.hostname;
      rows.push({ mac, ...(name ? { node: name } : {}), image: p.image, version: p.version, since: p.since, by: p.by });
    }
    return rows.sort((a, b) => a.image.localeCompare(b.image) || (a.node ?? a.mac).localeCompare(b.node ?? b.mac));
  }

  /**
   * Drops pins left behind (a stopped or aborted rollout, one that did not cover the whole
   * image): of the nodes named (host names or MACs; a MAC no longer in the inventory too), of
   * every node of `image`, or of the nodes named for that image. Naming nothing is refused: it
   * never means every node. A node a rollout still watches keeps its pin (abort or wait first).
   */
  async unpin(sel: { nodes?: readonly string[]; image?: string }): Promise<VersionPinRow[]> {
    const nodes = sel.nodes ?? [];
    if (nodes.length === 0 && sel.image === undefined) throw new DisklessError('DL_USAGE', 'Cannot unpin: name the nodes, or the image whose pins go (--image); nothing is unpinned for all nodes at once');
    const cfg = this.#o.config();
    const macs = new Set<string>();
    for (const name of nodes) {
      const mac = findNode(cfg, name)?.mac ?? normalizeMac(name);
      if (mac === undefined) throw new DisklessError('DL_INVENTORY_NOT_FOUND', `no node ${name} in ${cfg.file} (diskless node list shows them; a node no longer listed is named by its MAC)`);
      macs.add(mac);
    }
    const rows = this.pins(sel.image).filter((p) => nodes.length === 0 || macs.has(p.mac));
    let dropped: VersionPinRow[] = [];
    await this.#serial(async () => {
      const r = this.#state.current;
      const busy = r && active(r) ? rows.filter((p) => p.image === r.spec.image && r.nodes.some((n) => n.mac === p.mac && (n.status === 'waiting' || n.status === 'rolling-back'))) : [];
      if (busy.length) throw new DisklessError('DL_ROLLOUT', `Cannot unpin ${busy.map((p) => p.node ?? p.mac).join(', ')}: rollout ${r!.id} is watching ${busy.length === 1 ? 'its boot' : 'their boots'} (wait for it, or diskless rollout abort)`);
      for (const p of rows) await this.#o.pins.set(p.mac, p.image, null, 'unpin');
      dropped = rows;
    });
    for (const p of dropped) this.#log.log('info', 'version pin dropped', { mac: p.mac, image: p.image, version: p.version });
    return dropped;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#unsubscribe?.();
    await this.#queue.catch(() => {});
    await this.#file.flush();
  }

  /** What a node's boot says, as planner input, for nodes the rollout watches. */
  #observe(mac: string): void {
    const r = this.#state.current;
    const n = r?.nodes.find((x) => x.mac === mac);
    if (!n || (n.status !== 'waiting' && n.status !== 'rolling-back')) return;
    const s = this.#o.states.get(mac);
    const boot = s?.boot;
    if (!s || !boot) return;
    const proof = reportTrust(boot, n.deadline === undefined ? undefined : n.deadline - r!.spec.timeoutSec * 1000);
    if (boot.phase === 'booted' && proof === 'proven') {
      // The version the server saw this boot load, not one a report names.
      this.#input({ kind: 'booted', mac, bootSeq: boot.startSeq, version: boot.image?.version ?? s.booted?.version });
    } else if (boot.phase === 'failed' && proof !== 'refuted') {
      this.#input({ kind: 'failed', mac, bootSeq: boot.startSeq, stage: boot.failure?.stage ?? s.stage ?? 'unknown', cause: boot.failure?.cause ?? s.cause ?? '' });
    }
  }

  #input(input: RolloutInput): void {
    void this.#serial(async () => {
      const r = this.#state.current;
      if (r && active(r)) await this.#step(r, input);
    }).catch((e: unknown) => this.#log.log('error', 'rollout step failed', { error: e instanceof Error ? e.message : String(e) }));
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(fn);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** One planner step: the new state is saved, then its actions are carried out in order. */
  async #step(r: Rollout, input: RolloutInput): Promise<void> {
    if (this.#closed) return;
    const step = advance(r, input, { now: this.#now(), seq: this.#o.events.lastSeq, whereIs: (mac) => whereIs(this.#o.states.get(mac)) });
    if (step.rollout === r && step.actions.length === 0) return;
    this.#state = { ...this.#state, current: step.rollout };
    for (const a of step.actions) if (a.kind === 'pin') await this.#pin(step.rollout, a.mac, a.version);
    this.#file.changed();
    await this.#file.commit();
    for (const a of step.actions) {
      if (a.kind === 'event') this.#emit(step.rollout, a);
      else if (a.kind === 'reboot') void this.#reboot(step.rollout, a.mac);
      else if (a.kind === 'finish') await this.#finish(step.rollout);
    }
  }

  async #pin(r: Rollout, mac: string, version: string | null): Promise<void> {
    await this.#o.pins.set(mac, r.spec.image, version, `rollout ${r.id}`);
  }

  /** The whole image moved: its version is published and the pins that said so are dropped. */
  async #finish(r: Rollout): Promise<void> {
    try {
      await this.#o.images.publish(r.spec.image, r.spec.version);
      for (const n of r.nodes) if (this.#o.pins.get(n.mac, r.spec.image) === r.spec.version) await this.#o.pins.set(n.mac, r.spec.image, null, `rollout ${r.id}`);
      this.#emit(r, { kind: 'event', name: 'published', detail: `${r.spec.image}@${r.spec.version} is published; its nodes follow the published version again` });
    } catch (e) {
      this.#emit(r, { kind: 'event', name: 'publish-failed', detail: `${r.spec.image}@${r.spec.version} could not be published (${e instanceof Error ? e.message : String(e)}); its nodes stay pinned to it` });
    }
  }

  async #reboot(r: Rollout, mac: string): Promise<void> {
    const node = this.#o.config().nodes.find((n) => n.mac === mac);
    const name = node?.hostname ?? mac;
    if (!node?.power) {
      this.#emit(r, { kind: 'event', name: 'waiting', mac, detail: `${name} has no BMC (power:): waiting for it to reboot` });
      return;
    }
    await this.#powerSlot();
    try {
      const outcome = await ipmiPower(node.power, 'cycle', this.#o.ipmi);
      if (outcome.ok) this.#emit(r, { kind: 'event', name: 'power-cycled', mac, detail: `${name}: ${outcome.detail}` });
      else this.#input({ kind: 'reboot-failed', mac, cause: outcome.detail });
    } finally {
      this.#powerDone();
    }
  }

  async #powerSlot(): Promise<void> {
    const max = Math.max(1, this.#o.powerParallel ?? DEFAULT_POWER_PARALLEL);
    if (this.#powerInFlight < max) {
      this.#powerInFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.#powerWaiting.push(resolve));
  }

  #powerDone(): void {
    const next = this.#powerWaiting.shift();
    if (next) next();
    else this.#powerInFlight--;
  }

  #emit(r: Rollout, a: Extract<RolloutAction, { kind: 'event' }>): void {
    this.#log.log(a.name.includes('fail') || a.name === 'stopped' ? 'warn' : 'info', `rollout ${a.name}`, { rollout: r.id, ...(a.mac ? { mac: a.mac } : {}), detail: a.detail });
    this.#o.record({
      time: this.#now(),
      ...(a.mac !== undefined ? { mac: a.mac } : {}),
      kind: 'rollout',
      name: a.name,
      detail: a.detail,
      fields: { rollout: r.id, image: r.spec.image, version: r.spec.version, status: r.status },
    });
  }

  async #spec(req: RolloutRequest): Promise<RolloutSpec> {
    if (!STORE_VERSION_PATTERN.test(req.version)) throw new DisklessError('DL_INVALID', `Invalid version ${JSON.stringify(req.version)}: expected 16 lowercase hex digits (diskless image list shows them)`);
    await this.#o.images.show(req.image, req.version);
    const spec: RolloutSpec = {
      image: req.image,
      version: req.version,
      canary: req.canary ?? ROLLOUT_DEFAULTS.canary,
      batch: req.batch ?? ROLLOUT_DEFAULTS.batch,
      maxFailed: req.maxFailed ?? ROLLOUT_DEFAULTS.maxFailed,
      timeoutSec: req.timeoutSec ?? ROLLOUT_DEFAULTS.timeoutSec,
    };
    const whole = (v: number, what: string, min: number) => {
      if (!Number.isInteger(v) || v < min) throw new DisklessError('DL_INVALID', `${what} must be a whole number of at least ${min}, not ${v}`);
    };
    whole(spec.canary, '--canary', 0);
    whole(spec.maxFailed, '--max-failed', 0);
    whole(spec.timeoutSec, '--timeout', 10);
    if ('count' in spec.batch) whole(spec.batch.count, '--batch', 1);
    else if (!(spec.batch.percent > 0 && spec.batch.percent <= 100)) throw new DisklessError('DL_INVALID', `--batch ${spec.batch.percent}% must be a percentage above 0 and at most 100`);
    return spec;
  }

  async #plan(req: RolloutRequest, spec: RolloutSpec): Promise<{ nodes: PlannedNode[]; wholeImage: boolean }> {
    const cfg = this.#o.config();
    const nodes = rolloutNodes(cfg, spec.image, req);
    const unprovable = unprovableNodes(cfg, nodes);
    if (unprovable.length) {
      const byCause = new Map<string, string[]>();
      for (const u of unprovable) byCause.set(`${u.reason}; ${u.fix}`, [...(byCause.get(`${u.reason}; ${u.fix}`) ?? []), u.name]);
      const why = [...byCause].map(([cause, names]) => `${names.join(', ')}: ${cause}`).join('\n  ');
      throw new DisklessError('DL_ROLLOUT', `Cannot roll out ${spec.image}@${spec.version}: a node counts as moved only once its boot proves it ("booted" signed with the report key it gets by redeeming its boot's secrets token), and ${unprovable.length === 1 ? 'this node' : 'these nodes'} can never prove a boot:\n  ${why}`);
    }
    const published = await this.#o.images.resolve(spec.image).then((p) => p.version, () => undefined);
    const planned = nodes.map((n): PlannedNode => {
      const mac = n.mac!;
      const pin = this.#o.pins.get(mac, spec.image);
      const previousVersion = pin ?? published;
      if (previousVersion === undefined) throw new DisklessError('DL_ROLLOUT', `Cannot roll out ${spec.image}@${spec.version}: the image has no published version to go back to (publish one first: diskless image publish ${spec.image} VERSION)`);
      return { mac, name: targetOf(n).name, previousPin: pin ?? null, previousVersion };
    });
    const everyNode = rolloutNodes(cfg, spec.image, {});
    return { nodes: planned, wholeImage: planned.length === everyNode.length };
  }
}

/**
 * The nodes a rollout of `image` moves: those named, those of a profile, or with neither every
 * node whose profile boots the image, in inventory order. Each must boot the image and have a
 * MAC (its boots are followed by MAC).
 */
export function rolloutNodes(cfg: DisklessConfig, image: string, sel: { nodes?: readonly string[]; profile?: string }): NodeConfig[] {
  const bootsImage = (n: NodeConfig) => cfg.profiles.get(n.profile ?? cfg.defaultProfile ?? '')?.image === image;
  let nodes: NodeConfig[];
  if (sel.nodes !== undefined && sel.nodes.length > 0) {
    if (sel.profile !== undefined) throw new DisklessError('DL_USAGE', 'give --nodes or --profile, not both');
    nodes = [];
    for (const name of sel.nodes) {
      const n = findNode(cfg, name);
      if (!n) throw new DisklessError('DL_INVENTORY_NOT_FOUND', `no node ${name} in ${cfg.file} (diskless node list shows them)`);
      if (!bootsImage(n)) throw new DisklessError('DL_ROLLOUT', `node ${name} does not boot image ${image} (its profile ${n.profile ?? cfg.defaultProfile ?? '(none)'} has ${profileImage(cfg, n) ?? 'no image'})`);
      if (!nodes.includes(n)) nodes.push(n);
    }
  } else if (sel.profile !== undefined) {
    const p = cfg.profiles.get(sel.profile);
    if (!p) throw new DisklessError('DL_INVENTORY_NOT_FOUND', `no profile ${sel.profile} (profiles: ${[...cfg.profiles.keys()].join(', ') || 'none'})`);
    if (p.image !== image) throw new DisklessError('DL_ROLLOUT', `profile ${sel.profile} does not boot image ${image} (it has ${p.image ?? 'no image'})`);
    nodes = cfg.nodes.filter((n) => (n.profile ?? cfg.defaultProfile) === sel.profile);
  } else {
    nodes = cfg.nodes.filter(bootsImage);
  }
  if (nodes.length === 0) throw new DisklessError('DL_ROLLOUT', `no node boots image ${image}${sel.profile ? ` in profile ${sel.profile}` : ''} (a profile boots a stored image with image: ${image})`);
  const noMac = nodes.filter((n) => n.mac === undefined);
  if (noMac.length) throw new DisklessError('DL_ROLLOUT', `a rollout follows nodes by MAC, and ${noMac.map((n) => targetOf(n).name).join(', ')} has none (add mac: to it, or leave it out with --nodes)`);
  return nodes;
}

/** A node whose boots never redeem a secrets token, why, and what to change. */
export interface UnprovableNode {
  name: string;
  reason: string;
  fix: string;
}

/**
 * The nodes among `nodes` whose boots can never prove themselves to a rollout. A boot gets its
 * secrets token (and with it the key that signs its reports) only in a secrets window, which our
 * DHCP opens when it hands the machine its boot file (src/app/services.ts), and only in an iPXE
 * script or a GRUB config: pxelinux configs carry none. So: a server without DHCP whose state is
 * its own (no peer's DHCP opens windows in a shared database) proves no boot, and neither does a
 * node that boots through pxelinux.
 */
export function unprovableNodes(cfg: DisklessConfig, nodes: readonly NodeConfig[]): UnprovableNode[] {
  const out: UnprovableNode[] = [];
  const noDhcp = cfg.dhcp.mode === 'off' && cfg.state.backend === 'files';
  for (const n of nodes) {
    const name = targetOf(n).name;
    const profileName = n.profile ?? cfg.defaultProfile ?? '';
    const profile = cfg.profiles.get(profileName);
    if (noDhcp) {
      out.push({ name, reason: 'dhcp.mode is off, so no boot of it opens a secrets window and its boot scripts carry no token', fix: `serve DHCP (dhcp.mode: full, or proxy beside another DHCP server) in ${cfg.file}` });
    } else if ((n.loader ?? profile?.loader) === 'pxelinux') {
      out.push({ name, reason: `it boots through pxelinux on BIOS (${n.loader !== undefined ? 'its' : `profile ${profileName}'s`} loader: pxelinux), whose configs carry no secrets token`, fix: `give it loader: ipxe (or grub) in ${cfg.file}` });
    }
  }
  return out;
}

function profileImage(cfg: DisklessConfig, n: NodeConfig): string | undefined {
  return cfg.profiles.get(n.profile ?? cfg.defaultProfile ?? '')?.image;
}

/**
 * How far the report that ended a boot is believed, for a rollout moving the node at `movedAt`:
 * - `proven`: its proof is this boot's, and the boot redeemed its token after the move;
 * - `unproven`: it carries no proof, and the boot has not redeemed one (it failed before its
 *   identity stage, or a host spoofing the MAC said so): a failure is believed (the node goes
 *   back to the version it ran, the safe direction), "booted" never;
 * - `refuted`: it carries no proof although this boot holds a key: it is not the node's.
 */
export function reportTrust(boot: BootRecord, movedAt: number | undefined): 'proven' | 'unproven' | 'refuted' {
  const keyed = boot.keyedAt !== undefined && (movedAt === undefined || boot.keyedAt >= movedAt);
  if (boot.endProven && keyed) return 'proven';
  return boot.keyedAt === undefined ? 'unproven' : 'refuted';
}

/** "root (running)", "booted", "dhcp": where a node's current boot is, for a timeout. */
function whereIs(s: NodeState | undefined): string | undefined {
  if (!s?.boot) return undefined;
  if (s.boot.phase === 'booted' && !s.boot.endProven) return 'booted, but its report was not proven (a boot without a secrets token: no DHCP boot from us, or pxelinux)';
  return s.stage ? `${s.phase}, stage ${s.stage}` : s.phase;
}

/** 20260101-120000-ab12: sorts by time, unique enough for one server. */
function rolloutId(now: number): string {
  const t = new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${t}-${randomBytes(2).toString('hex')}`;
}
