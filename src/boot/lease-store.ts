import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

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
}

export interface LeaseStoreOptions {
  /** JSON file the table persists to; omitted = memory only. */
  path?: string;
  /** Milliseconds since the epoch. */
  now?: () => number;
}

interface LeaseFile {
  version: 1;
  leases: Array<{ ip: string; mac: string; state: 'bound' | 'declined'; expiresAt: string; hostname?: string }>;
}

/**
 * The lease table: one record per address, at most one address per MAC. Bound leases and
 * declines survive restarts through an atomically replaced JSON file; offers live only in
 * memory (losing one costs the client a retry, not an address conflict).
 */
export class LeaseStore implements LeaseView {
  readonly #path: string | undefined;
  readonly #now: () => number;
  readonly #byIp = new Map<string, Lease>();
  readonly #ipByMac = new Map<string, string>();

  constructor(options: LeaseStoreOptions = {}) {
    this.#path = options.path;
    this.#now = options.now ?? Date.now;
    if (this.#path !== undefined) this.#load(this.#path);
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

  /** Every record, expired ones included; for status views. */
  list(): Lease[] {
    return [...this.#byIp.values()].map((l) => ({ ...l }));
  }

  apply(action: LeaseAction): void {
    const now = this.#now();
    switch (action.kind) {
      case 'offer': {
        const current = this.#byIp.get(action.ip);
        // A client rebooting with a still-valid lease DISCOVERs again; keep it bound.
        if (current?.state === 'bound' && current.mac === action.mac && current.expiresAt > now) return;
        this.#put({ ip: action.ip, mac: action.mac, state: 'offered', expiresAt: now + action.holdSec * 1000 });
        return;
      }
      case 'bind': {
        const lease: Lease = { ip: action.ip, mac: action.mac, state: 'bound', expiresAt: now + action.leaseSec * 1000 };
        if (action.hostname !== undefined) lease.hostname = action.hostname;
        this.#put(lease);
        this.#save();
        return;
      }
      case 'release': {
        const current = this.#byIp.get(action.ip);
        if (!current || current.mac !== action.mac || current.state === 'declined') return;
        // Kept, expired, so the client gets the same address next time if nobody took it.
        current.state = 'bound';
        current.expiresAt = Math.min(current.expiresAt, now);
        this.#save();
        return;
      }
      case 'decline': {
        this.#delete(action.ip);
        this.#byIp.set(action.ip, { ip: action.ip, mac: action.mac, state: 'declined', expiresAt: now + action.holdSec * 1000 });
        this.#save();
        return;
      }
      case 'cancel-offer': {
        const current = this.leaseForMac(action.mac);
        if (current?.state === 'offered') this.#delete(current.ip);
        return;
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
    if (this.#ipByMac.get(current.mac) === ip) this.#ipByMac.delete(current.mac);
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
      if (entry.state === 'declined') {
        this.#byIp.set(entry.ip, { ip: entry.ip, mac: entry.mac, state: 'declined', expiresAt });
      } else if (entry.state === 'bound') {
        const lease: Lease = { ip: entry.ip, mac: entry.mac, state: 'bound', expiresAt };
        if (typeof entry.hostname === 'string') lease.hostname = entry.hostname;
        this.#put(lease);
      }
    }
  }

  /** Temp file, fsync, rename, fsync the directory: a crash leaves the old or the new table, never half. */
  #save(): void {
    const path = this.#path;
    if (path === undefined) return;
    const file: LeaseFile = { version: 1, leases: [] };
    for (const l of this.#byIp.values()) {
      if (l.state === 'offered') continue;
      const entry: LeaseFile['leases'][number] = { ip: l.ip, mac: l.mac, state: l.state, expiresAt: new Date(l.expiresAt).toISOString() };
      if (l.hostname !== undefined) entry.hostname = l.hostname;
      file.leases.push(entry);
    }
    mkdirSync(dirname(path), { recursive: true });
    const temp = `${path}.${process.pid}.tmp`;
    const fd = openSync(temp, 'w', 0o644);
    try {
      writeSync(fd, JSON.stringify(file, null, 2) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    const dirFd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}
