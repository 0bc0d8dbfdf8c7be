import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../files/atomic-write.js';

export type LeaseState = 'offered' | 'bound' | 'declined';

export interface Lease {
  ip: string;
  /** The client holding it; for a declined address, the client that declined it. */
  mac: string;
  state: LeaseState;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  hostname?: string;
}

/** What the policy may ask of the lease table; the policy itself never writes. */
export type LeaseAction =
  | { kind: 'offer'; mac: string; ip: string; holdSec: number }
  | { kind: 'bind'; mac: string; ip: string; leaseSec: number; hostname?: string }
  | { kind: 'release'; mac: string; ip: string }
  | { kind: 'decline'; mac: string; ip: string; holdSec: number }
  /** The client took another server's offer (RFC 2131 §4.3.2, SELECTING). */
  | { kind: 'cancel-offer'; mac: string };

/** The read side the policy sees. */
export interface LeaseView {
  /** This client's lease, current or expired (an expired one is still its preferred address). */
  leaseForMac(mac: string): Lease | undefined;
  /** No unexpired lease of another client and no unexpired decline holds `ip`. */
  isAvailable(ip: string, mac: string): boolean;
  /** `ip` is offered or bound to `mac` right now (an unexpired offer or lease). */
  isHeldBy(ip: string, mac: string): boolean;
  /** Whatever entry `ip` has, expired or not (an expired offer is a client that may still ask). */
  leaseForIp(ip: string): Lease | undefined;
}

export interface LeaseStoreOptions {
  /** JSON file the table persists to; omitted = memory only. */
  path?: string;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** Replaces the file atomically and durably; tests inject one that counts or fails. */
  writeFile?: (path: string, data: string) => Promise<void>;
  /** Declined addresses held at once; more drop the oldest. Default MAX_DECLINED. */
  maxDeclined?: number;
}

/**
 * How many declined addresses are held at once. A decline only replaces the decliner's own
 * offer or lease, so the table cannot grow past the pool and the reservations; the cap also
 * bounds how much of the pool declines can take out of service (a client may decline every
 * address it is offered), and dropping the oldest first gives back first the address whose
 * conflict is likeliest gone.
 */
export const MAX_DECLINED = 64;

interface LeaseFile {
  version: 1;
  /** Only 'bound' is written; 'declined' entries of older files are skipped when read. */
  leases: Array<{ ip: string; mac: string; state: 'bound' | 'declined'; expiresAt: string; hostname?: string }>;
}

/** One write of the table and everyone waiting for it. */
interface Batch {
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A failure reaches every commit() caller; a change nobody waits for (a decline, a release)
  // must not become an unhandled rejection.
  done.catch(() => {});
  return { done, resolve, reject };
}

async function defaultWriteFile(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, data);
}

/**
 * The lease table: one record per address, at most one address per MAC. Bound leases survive
 * restarts through an atomically replaced JSON file. Offers live only in memory (losing one
 * costs the client a retry, not an address conflict), and so do declines: a decline says some
 * host answered ARP for the address a moment ago, which a restart neither confirms nor
 * refutes; if the conflict is still there, the next client to get the address probes it and
 * declines it again (RFC 2131 §4.4.1), at the cost of one more exchange. Kept in memory, a
 * decline costs no disk write, cannot outlive the process, and cannot grow the file.
 *
 * Writes are group commits: `apply` changes the table in memory at once and marks it dirty;
 * one asynchronous write (temp + fsync + rename + directory fsync) saves every change made
 * before it starts, and changes made while it runs are saved together by the next one. So a
 * burst of ACKs shares one fsync, the event loop never waits for the disk, and `commit()`
 * still tells each caller when its own change is durable.
 */
export class LeaseStore implements LeaseView {
  readonly #path: string | undefined;
  readonly #now: () => number;
  readonly #writeFile: (path: string, data: string) => Promise<void>;
  readonly #maxDeclined: number;
  readonly #byIp = new Map<string, Lease>();
  readonly #ipByMac = new Map<string, string>();
  /** The addresses in `#byIp` whose entry is a decline, oldest decline first. */
  readonly #declined = new Set<string>();
  /** Counts persisted changes; `#saved` is its value in the last completed write. */
  #changes = 0;
  #saved = 0;
  /** The write in progress and the `#changes` it contains. */
  #writing: { batch: Batch; upTo: number } | undefined;
  /** The next write: changes since the one in progress (or since a failed one) wait here. */
  #next: Batch | undefined;

  constructor(options: LeaseStoreOptions = {}) {
    this.#path = options.path;
    this.#now = options.now ?? Date.now;
    this.#writeFile = options.writeFile ?? defaultWriteFile;
    this.#maxDeclined = options.maxDeclined ?? MAX_DECLINED;
    if (this.#path !== undefined) this.#load(this.#path);
  }

  /**
   * Resolves once every change applied so far is on disk; rejects when the write that was to
   * contain it failed (the change stays in memory and goes out with the next write). Memory-only
   * stores resolve at once.
   */
  commit(): Promise<void> {
    if (this.#path === undefined || this.#saved >= this.#changes) return Promise.resolve();
    if (this.#writing !== undefined && this.#writing.upTo >= this.#changes) return this.#writing.batch.done;
    return this.#schedule().done;
  }

  /** Waits for every write started or scheduled so far; never rejects (for shutdown). */
  async flush(): Promise<void> {
    while (this.#writing !== undefined || this.#next !== undefined) {
      await (this.#next ?? this.#writing?.batch)?.done.catch(() => {});
    }
  }

  leaseForMac(mac: string): Lease | undefined {
    const ip = this.#ipByMac.get(mac);
    return ip === undefined ? undefined : this.#byIp.get(ip);
  }

  leaseForIp(ip: string): Lease | undefined {
    return this.#byIp.get(ip);
  }

  isAvailable(ip: string, mac: string): boolean {
    const lease = this.#byIp.get(ip);
    if (!lease || lease.expiresAt <= this.#now()) return true;
    return lease.state !== 'declined' && lease.mac === mac;
  }

  isHeldBy(ip: string, mac: string): boolean {
    const lease = this.#byIp.get(ip);
    return lease !== undefined && lease.state !== 'declined' && lease.mac === mac && lease.expiresAt > this.#now();
  }

  /** Every record, expired ones included; for status views. */
  list(): Lease[] {
    return [...this.#byIp.values()].map((l) => ({ ...l }));
  }

  /**
   * Changes the table in memory. Returns true when the change is one that is persisted (a bind,
   * a release, or a decline that ended a bound lease); its write is then scheduled, and
   * `commit()` says when it is durable.
   */
  apply(action: LeaseAction): boolean {
    const now = this.#now();
    switch (action.kind) {
      case 'offer': {
        const current = this.#byIp.get(action.ip);
        // A client rebooting with a still-valid lease DISCOVERs again; keep it bound.
        if (current?.state === 'bound' && current.mac === action.mac && current.expiresAt > now) return false;
        this.#put({ ip: action.ip, mac: action.mac, state: 'offered', expiresAt: now + action.holdSec * 1000 });
        return false;
      }
      case 'bind': {
        const lease: Lease = { ip: action.ip, mac: action.mac, state: 'bound', expiresAt: now + action.leaseSec * 1000 };
        if (action.hostname !== undefined) lease.hostname = action.hostname;
        this.#put(lease);
        return this.#changed();
      }
      case 'release': {
        const current = this.#byIp.get(action.ip);
        if (!current || current.mac !== action.mac || current.state === 'declined') return false;
        // Kept, expired, so the client gets the same address next time if nobody took it.
        current.state = 'bound';
        current.expiresAt = Math.min(current.expiresAt, now);
        return this.#changed();
      }
      case 'decline': {
        // RFC 2131 §4.3.3: a client declines the address the server gave it. Anything else is
        // someone else's lease or nobody's, and a decline must not take it (the policy refuses
        // those first; this keeps the table safe whoever calls it).
        if (!this.isHeldBy(action.ip, action.mac)) return false;
        const wasBound = this.#byIp.get(action.ip)?.state === 'bound';
        this.#delete(action.ip);
        this.#byIp.set(action.ip, { ip: action.ip, mac: action.mac, state: 'declined', expiresAt: now + action.holdSec * 1000 });
        this.#declined.add(action.ip);
        this.#pruneDeclined(now);
        // The decline itself is not saved, but the binding it ended must leave the file.
        return wasBound ? this.#changed() : false;
      }
      case 'cancel-offer': {
        const current = this.leaseForMac(action.mac);
        if (current?.state === 'offered') this.#delete(current.ip);
        return false;
      }
    }
  }

  #put(lease: Lease): void {
    const previousIp = this.#ipByMac.get(lease.mac);
    if (previousIp !== undefined && previousIp !== lease.ip) this.#delete(previousIp);
    this.#delete(lease.ip);
    this.#byIp.set(lease.ip, lease);
    this.#ipByMac.set(lease.mac, lease.ip);
  }

  #delete(ip: string): void {
    const current = this.#byIp.get(ip);
    if (!current) return;
    this.#byIp.delete(ip);
    this.#declined.delete(ip);
    if (this.#ipByMac.get(current.mac) === ip) this.#ipByMac.delete(current.mac);
  }

  /** Drops expired declines, then the oldest ones beyond the cap. */
  #pruneDeclined(now: number): void {
    for (const ip of this.#declined) {
      if (this.#declined.size > this.#maxDeclined || (this.#byIp.get(ip)?.expiresAt ?? 0) <= now) this.#delete(ip);
      else break;
    }
  }

  #load(path: string): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new Error(`Cannot load DHCP leases from ${path}: ${(err as Error).message}`);
    }
    let file: LeaseFile;
    try {
      file = JSON.parse(text) as LeaseFile;
      if (file.version !== 1 || !Array.isArray(file.leases)) throw new Error('not a version 1 lease file');
    } catch (err) {
      throw new Error(`Cannot load DHCP leases from ${path}: ${(err as Error).message}`);
    }
    for (const entry of file.leases) {
      const expiresAt = Date.parse(entry.expiresAt);
      if (typeof entry.ip !== 'string' || typeof entry.mac !== 'string' || Number.isNaN(expiresAt)) continue;
      // Declines are no longer written; one in a file from an older version is not honoured.
      if (entry.state === 'bound') {
        const lease: Lease = { ip: entry.ip, mac: entry.mac, state: 'bound', expiresAt };
        if (typeof entry.hostname === 'string') lease.hostname = entry.hostname;
        this.#put(lease);
      }
    }
  }

  /** Marks the table dirty and makes sure a write will save it. */
  #changed(): boolean {
    if (this.#path === undefined) return true;
    this.#changes++;
    this.#schedule();
    return true;
  }

  /** The batch the next write serves, starting that write unless one is in progress. */
  #schedule(): Batch {
    if (this.#next === undefined) {
      this.#next = newBatch();
      // setImmediate, not now: every datagram already read in this turn of the event loop gets
      // its change into the same write. When a write is in progress, its end starts this one.
      if (this.#writing === undefined) setImmediate(() => void this.#write());
    }
    return this.#next;
  }

  async #write(): Promise<void> {
    const batch = this.#next;
    const path = this.#path;
    if (batch === undefined || path === undefined || this.#writing !== undefined) return;
    this.#next = undefined;
    const upTo = this.#changes;
    this.#writing = { batch, upTo };
    try {
      await this.#writeFile(path, this.#serialize());
      this.#saved = Math.max(this.#saved, upTo);
      batch.resolve();
    } catch (err) {
      // The table in memory is unchanged and still dirty: the next change (or commit) writes it
      // again, with everything since.
      batch.reject(err);
    } finally {
      this.#writing = undefined;
      if (this.#next !== undefined) setImmediate(() => void this.#write());
    }
  }

  #serialize(): string {
    const file: LeaseFile = { version: 1, leases: [] };
    for (const l of this.#byIp.values()) {
      if (l.state !== 'bound') continue;
      const entry: LeaseFile['leases'][number] = { ip: l.ip, mac: l.mac, state: 'bound', expiresAt: new Date(l.expiresAt).toISOString() };
      if (l.hostname !== undefined) entry.hostname = l.hostname;
      file.leases.push(entry);
    }
    return JSON.stringify(file, null, 2) + '\n';
  }
}
