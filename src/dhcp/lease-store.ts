import { readStateFileSync, StateFileWriter, type StateFileFormat } from '../files/state-file.js';
import type { Lease, LeaseAction, LeaseChange, LeaseTable } from './lease-table.js';

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

/** A bound lease as dhcp-leases.json holds it. */
interface LeaseEntry {
  ip: string;
  mac: string;
  state: 'bound';
  /** ISO 8601. */
  expiresAt: string;
  hostname?: string;
  node?: string;
}

/**
 * dhcp-leases.json: `{ "version": 1, "leases": [...] }`. Only bound leases are written;
 * 'declined' entries of older files are skipped when read, as are entries that make no sense.
 */
const LEASE_FILE: StateFileFormat<Lease[]> = {
  what: 'DHCP leases',
  version: 1,
  versionField: 'version',
  decode(doc) {
    if (!Array.isArray(doc.leases)) throw new Error('no "leases" list');
    const leases: Lease[] = [];
    for (const entry of doc.leases as Array<Partial<Record<keyof LeaseEntry, unknown>> | null>) {
      const expiresAt = typeof entry?.expiresAt === 'string' ? Date.parse(entry.expiresAt) : NaN;
      if (typeof entry?.ip !== 'string' || typeof entry.mac !== 'string' || Number.isNaN(expiresAt)) continue;
      // Declines are no longer written; one in a file from an older version is not honoured.
      if (entry.state !== 'bound') continue;
      const lease: Lease = { ip: entry.ip, mac: entry.mac, state: 'bound', expiresAt };
      if (typeof entry.hostname === 'string') lease.hostname = entry.hostname;
      if (typeof entry.node === 'string') lease.node = entry.node;
      leases.push(lease);
    }
    return leases;
  },
  encode(leases) {
    const entries: LeaseEntry[] = [];
    for (const l of leases) {
      if (l.state !== 'bound') continue;
      const entry: LeaseEntry = { ip: l.ip, mac: l.mac, state: 'bound', expiresAt: new Date(l.expiresAt).toISOString() };
      if (l.hostname !== undefined) entry.hostname = l.hostname;
      if (l.node !== undefined) entry.node = l.node;
      entries.push(entry);
    }
    return { leases: entries };
  },
};

/**
 * The lease table: one record per address, at most one address per MAC. Bound leases survive
 * restarts through an atomically replaced JSON file. Offers live only in memory (losing one
 * costs the client a retry, not an address conflict), and so do declines: a decline says some
 * host answered ARP for the address a moment ago, which a restart neither confirms nor
 * refutes; if the conflict is still there, the next client to get the address probes it and
 * declines it again (RFC 2131 §4.4.1), at the cost of one more exchange. Kept in memory, a
 * decline costs no disk write, cannot outlive the process, and cannot grow the file.
 *
 * Writes are group commits (see StateFileWriter): `apply` changes the table in memory at once
 * and marks it dirty; one asynchronous write saves every change made before it starts, and
 * changes made while it runs are saved together by the next one. So a burst of ACKs shares one
 * fsync, the event loop never waits for the disk, and `commit()` still tells each caller when
 * its own change is durable.
 */
export class LeaseStore implements LeaseTable {
  readonly #now: () => number;
  /** Undefined for a memory-only table. */
  readonly #file: StateFileWriter<Lease[]> | undefined;
  readonly #maxDeclined: number;
  readonly #byIp = new Map<string, Lease>();
  readonly #ipByMac = new Map<string, string>();
  /** The addresses in `#byIp` whose entry is a decline, oldest decline first. */
  readonly #declined = new Set<string>();

  constructor(options: LeaseStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxDeclined = options.maxDeclined ?? MAX_DECLINED;
    const path = options.path;
    this.#file = path === undefined ? undefined : new StateFileWriter({
      path,
      format: LEASE_FILE,
      snapshot: () => [...this.#byIp.values()],
      ...(options.writeFile ? { writeFile: options.writeFile } : {}),
    });
    if (path !== undefined) for (const lease of readStateFileSync(path, LEASE_FILE) ?? []) this.#put(lease);
  }

  /**
   * Resolves once every change applied so far is on disk; rejects when the write that was to
   * contain it failed (the change stays in memory and goes out with the next write). Memory-only
   * stores resolve at once.
   */
  commit(): Promise<void> {
    return this.#file?.commit() ?? Promise.resolve();
  }

  /** Writes whatever is not yet saved and waits for it; never rejects (for shutdown). */
  async flush(): Promise<void> {
    await this.#file?.flush();
  }

  leaseForMac(mac: string): Lease | undefined {
    const ip = this.#ipByMac.get(mac);
    return ip === undefined ? undefined : this.#byIp.get(ip);
  }

  leaseForIp(ip: string): Lease | undefined {
    return this.#byIp.get(ip);
  }

  isAvailable(ip: string, mac: string, node?: string): boolean {
    const lease = this.#byIp.get(ip);
    if (!lease || lease.expiresAt <= this.#now()) return true;
    return lease.state !== 'declined' && (lease.mac === mac || (node !== undefined && lease.node === node));
  }

  isHeldBy(ip: string, mac: string): boolean {
    const lease = this.#byIp.get(ip);
    return lease !== undefined && lease.state !== 'declined' && lease.mac === mac && lease.expiresAt > this.#now();
  }

  /** Every record, expired ones included; for status views. */
  list(): Lease[] {
    return [...this.#byIp.values()].map((l) => ({ ...l }));
  }

  /** LeaseTable's change: in memory at once; durable when the change is one the file keeps. */
  change(action: LeaseAction): LeaseChange {
    return this.apply(action) ? { durable: this.commit() } : {};
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
        this.#put({ ip: action.ip, mac: action.mac, state: 'offered', expiresAt: now + action.holdSec * 1000, ...(action.node !== undefined ? { node: action.node } : {}) });
        return false;
      }
      case 'bind': {
        const lease: Lease = { ip: action.ip, mac: action.mac, state: 'bound', expiresAt: now + action.leaseSec * 1000 };
        if (action.hostname !== undefined) lease.hostname = action.hostname;
        if (action.node !== undefined) lease.node = action.node;
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

  /** Marks the table dirty and makes sure a write will save it. */
  #changed(): boolean {
    this.#file?.changed();
    return true;
  }
}
