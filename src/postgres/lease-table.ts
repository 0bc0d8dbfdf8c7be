import type { Lease, LeaseAction, LeaseState } from '../dhcp/lease-table.js';
import { MAX_DECLINED } from '../dhcp/lease-store.js';
import { LeaseBusyError, LeaseConflictError, type LeaseChange, type LeaseTable } from '../dhcp/lease-table.js';
import { nullLogger, type Logger } from '../log/logger.js';
import type { Database } from './database.js';

export const LEASE_CHANNEL = 'diskless_leases';

export interface PgLeaseTableOptions {
  /** This server's DHCP server identifier (server.address): offers it made, it may cancel. */
  server: string;
  /** Milliseconds since the epoch. */
  now?: () => number;
  maxDeclined?: number;
  /** Changes waiting for the database at once; more are shed. Default DEFAULT_MAX_PENDING. */
  maxPending?: number;
  /**
   * state.offline_grace: for this long after the database was last reached, a client whose
   * binding the copy holds (unexpired, its MAC and address) is still ACKed for that address and
   * offered it again; the renewals are written when the database returns. Nothing else is
   * handed out. Default 0: nothing at all without the database.
   */
  offlineGraceMs?: number;
  logger?: Logger;
}

/** diskless_lease_apply's answer for one change. */
interface ApplyResult {
  ok: boolean;
  rows: RowChange[];
}

/** Transactions of lease changes under way at once (the pool has 8 connections). */
const MAX_BATCHES_IN_FLIGHT = 3;
/** Changes in one transaction at most. */
const MAX_BATCH = 128;

/** About two seconds of claims at the rate one database sustains on a small machine. */
export const DEFAULT_MAX_PENDING = 256;


/** A row as the database announces it: an entry, or the deletion of one. */
interface RowChange {
  ip: string;
  revision: number;
  deleted?: boolean;
  mac?: string;
  state?: LeaseState;
  expiresAt?: number;
  hostname?: string | null;
  server?: string;
  /** The inventory node the client was taken for (nodeKey); absent or null when none. */
  node?: string | null;
}

interface CachedLease extends Lease {
  server: string;
}

/**
 * The DHCP lease table shared by every boot server through the database. Each server reads a
 * copy kept in memory (the policy decides synchronously, as with the file), filled at open and
 * kept current by the changes every server announces (LISTEN diskless_leases; read again
 * whole after the listening connection was lost). Every change goes through one database
 * function that decides it atomically against the row (SELECT … FOR UPDATE, the primary key
 * on the address, one entry per MAC): an address is claimed before it is offered and bound
 * before it is ACKed, so two servers never give one address to two clients, and a claim lost
 * to another server is a LeaseConflictError whose winner the copy already holds.
 */
export class PgLeaseTable implements LeaseTable {
  readonly #db: Database;
  readonly #server: string;
  readonly #now: () => number;
  readonly #maxDeclined: number;
  readonly #log: Logger;
  readonly #byIp = new Map<string, CachedLease>();
  readonly #ipByMac = new Map<string, string>();
  /** The newest revision seen per address, deletions included, so older news is ignored. */
  readonly #revision = new Map<string, number>();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #queue: Array<{ arg: Record<string, unknown>; resolve: (r: ApplyResult) => void; reject: (e: unknown) => void }> = [];
  #batchesInFlight = 0;
  /** Clients with a change on its way to the database. */
  readonly #inFlight = new Set<string>();
  readonly #maxPending: number;
  #unlisten: (() => void) | undefined;
  #unresync: (() => void) | undefined;
  readonly #graceMs: number;
  /** Renewals ACKed from the copy while the database was away, by MAC: written when it returns. */
  readonly #owed = new Map<string, Record<string, unknown>>();
  #graceLogged = 0;

  private constructor(db: Database, o: PgLeaseTableOptions) {
    this.#graceMs = o.offlineGraceMs ?? 0;
    this.#db = db;
    this.#server = o.server;
    this.#now = o.now ?? Date.now;
    this.#maxDeclined = o.maxDeclined ?? MAX_DECLINED;
    this.#maxPending = o.maxPending ?? DEFAULT_MAX_PENDING;
    this.#log = (o.logger ?? nullLogger).child({ service: 'dhcp' });
  }

  static async open(db: Database, o: PgLeaseTableOptions): Promise<PgLeaseTable> {
    const t = new PgLeaseTable(db, o);
    // Listening first, then reading: a change made in between is heard (and ignored if older).
    t.#unlisten = await db.listen(LEASE_CHANNEL, (payload) => t.#heard(payload));
    t.#unresync = db.onResync(() => {
      void t.#payOwed().then(() => t.reload()).catch((e: unknown) => t.#log.log('warn', 'lease table not reread', { error: String(e) }));
    });
    await t.reload();
    return t;
  }

  /** Reads the whole table again (at open, and after notifications may have been missed). */
  async reload(): Promise<void> {
    const rows = await this.#db.query<{ ip: string; mac: string; state: LeaseState; expires_at: string; hostname: string | null; server: string; revision: string; node: string | null }>(
      'SELECT ip, mac, state, expires_at, hostname, server, revision, node FROM dhcp_leases');
    const seen = new Set<string>();
    for (const r of rows) {
      seen.add(r.ip);
      this.#apply({ ip: r.ip, mac: r.mac, state: r.state, expiresAt: Number(r.expires_at), hostname: r.hostname, server: r.server, revision: Number(r.revision), node: r.node });
    }
    for (const ip of [...this.#byIp.keys()]) if (!seen.has(ip)) this.#delete(ip);
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

  /** The MACs holding an unexpired binding, by the server that made it. */
  boundBy(): Map<string, string[]> {
    const now = this.#now();
    const out = new Map<string, string[]>();
    for (const l of this.#byIp.values()) {
      if (l.state !== 'bound' || l.expiresAt <= now) continue;
      out.set(l.server, [...(out.get(l.server) ?? []), l.mac]);
    }
    return out;
  }

  list(): Lease[] {
    return [...this.#byIp.values()].map(({ server: _server, ...l }) => ({ ...l }));
  }

  /** Every change is stored (claimed) in the database before `durable` resolves. */
  change(action: LeaseAction): LeaseChange {
    const now = this.#now();
    // Nothing of ours to withdraw: no trip to the database (most REQUESTs a server hears name another).
    if (action.kind === 'cancel-offer' && !this.#hasOwnOffer(action.mac, action.ip)) return {};
    // A client's retransmission while its last change is still on the way: that change answers
    // it (or its next retransmission does); a second claim would only queue behind the first.
    if (this.#inFlight.has(action.mac)) return { durable: Promise.reject(new LeaseBusyError(action.mac, 'its previous change is still on its way to the database')) };
    // Past this many changes waiting for the database, new ones are shed at once: a request
    // that waited seconds is stale (the client retransmitted), and queueing it only delays fresh ones.
    if (this.#pending.size >= this.#maxPending) return { durable: Promise.reject(new LeaseBusyError(action.mac, `${this.#pending.size} changes are waiting for the database`)) };
    const arg: Record<string, unknown> = { kind: action.kind, mac: action.mac, server: this.#server, now, maxDeclined: this.#maxDeclined };
    if (action.kind !== 'cancel-offer' || action.ip !== undefined) arg.ip = action.ip;
    if (action.kind === 'offer' || action.kind === 'decline') arg.expiresAt = now + action.holdSec * 1000;
    if (action.kind === 'bind') {
      arg.expiresAt = now + action.leaseSec * 1000;
      if (action.hostname !== undefined) arg.hostname = action.hostname;
    }
    if ((action.kind === 'offer' || action.kind === 'bind') && action.node !== undefined) arg.node = action.node;
    const durable = this.#enqueue(arg).then((result) => {
      for (const row of result.rows) this.#apply(row);
      // Only a claim can lose to another client; a release or decline the row no longer
      // matches simply changes nothing (as with the file).
      if (!result.ok && (action.kind === 'offer' || action.kind === 'bind')) throw new LeaseConflictError(action.ip);
    }, (e: unknown) => {
      if ((action.kind === 'offer' || action.kind === 'bind') && this.#withinGrace(action.mac, action.ip, now)) {
        // The address is this client's in the database already: keeping it costs nobody an
        // address. The renewal is owed to the table and written when the database returns.
        if (action.kind === 'bind') this.#owed.set(action.mac, arg);
        if (this.#graceLogged++ % 100 === 0) {
          this.#log.log('error', 'the state database is unreachable: renewing cached bindings only (state.offline_grace), no new addresses', { mac: action.mac, ip: action.ip, renewed: this.#graceLogged, error: String(e) });
        }
        return;
      }
      throw e;
    });
    this.#inFlight.add(action.mac);
    this.#track(durable, action.mac);
    return { durable };
  }

  /**
   * Sends `arg` with the changes queued beside it: at most MAX_BATCHES_IN_FLIGHT transactions
   * at once, each taking every change queued when it starts (up to MAX_BATCH), so a burst
   * costs a few round trips and commits, not one per packet.
   */
  #enqueue(arg: Record<string, unknown>): Promise<ApplyResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ arg, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#batchesInFlight < MAX_BATCHES_IN_FLIGHT && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_BATCH);
      this.#batchesInFlight++;
      this.#send(batch.map((b) => b.arg)).then(
        (rows) => {
          const results = rows[0]!.r;
          batch.forEach((b, i) => b.resolve(results[i]!));
        },
        (err: unknown) => {
          for (const b of batch) b.reject(err);
        },
      ).finally(() => {
        this.#batchesInFlight--;
        this.#pump();
      });
    }
  }

  /**
   * One transaction of changes. Two servers' batches may lock the same addresses in another
   * order; PostgreSQL then aborts one of them (deadlock detected), which changed nothing, and
   * it is sent again.
   */
  async #send(args: Array<Record<string, unknown>>): Promise<Array<{ r: ApplyResult[] }>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#db.query<{ r: ApplyResult[] }>('SELECT diskless_lease_apply_all($1::jsonb) AS r', [JSON.stringify(args)]);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if ((code !== '40P01' && code !== '40001') || attempt >= 3) throw e;
      }
    }
  }

  /** The database was reached within the grace and the copy holds this client's unexpired binding of `ip`. */
  #withinGrace(mac: string, ip: string, now: number): boolean {
    if (this.#graceMs <= 0 || now - this.#db.reachedAt > this.#graceMs) return false;
    const lease = this.#byIp.get(ip);
    return lease !== undefined && lease.state === 'bound' && lease.mac === mac && lease.expiresAt > now;
  }

  /** Writes the renewals ACKed while the database was away (each as it was ACKed). */
  async #payOwed(): Promise<void> {
    const owed = [...this.#owed.values()];
    this.#owed.clear();
    if (owed.length === 0) return;
    this.#graceLogged = 0;
    const now = this.#now();
    const results = await Promise.all(owed.map((arg) => this.#enqueue({ ...arg, now }).catch((e: unknown) => {
      this.#owed.set(String(arg.mac), arg);
      throw e;
    })));
    for (const r of results) for (const row of r.rows) this.#apply(row);
    const lost = results.filter((r) => !r.ok).length;
    this.#log.log(lost ? 'warn' : 'info', 'the state database is back: renewals made without it written', { renewed: owed.length, refused: lost });
  }

  #hasOwnOffer(mac: string, except: string | undefined): boolean {
    const lease = this.leaseForMac(mac);
    return lease !== undefined && lease.state === 'offered' && lease.ip !== except && this.#byIp.get(lease.ip)?.server === this.#server;
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }

  close(): void {
    this.#unlisten?.();
    this.#unresync?.();
  }

  #track(p: Promise<unknown>, mac: string): void {
    const settled = p.then(() => {}, () => {});
    this.#pending.add(settled);
    void settled.then(() => {
      this.#pending.delete(settled);
      this.#inFlight.delete(mac);
    });
  }

  #heard(payload: string): void {
    let rows: RowChange[];
    try {
      rows = JSON.parse(payload) as RowChange[];
    } catch {
      return;
    }
    for (const row of rows) this.#apply(row);
  }

  /** Takes a row change into the copy unless a newer one for its address was seen already. */
  #apply(row: RowChange): void {
    const known = this.#revision.get(row.ip);
    if (known !== undefined && row.revision < known) return;
    this.#revision.set(row.ip, row.revision);
    if (row.deleted === true) {
      this.#delete(row.ip);
      return;
    }
    const lease: CachedLease = { ip: row.ip, mac: row.mac!, state: row.state!, expiresAt: Number(row.expiresAt), server: row.server ?? '' };
    if (typeof row.hostname === 'string') lease.hostname = row.hostname;
    if (typeof row.node === 'string') lease.node = row.node;
    this.#delete(row.ip);
    this.#byIp.set(row.ip, lease);
    if (lease.state !== 'declined') {
      const previous = this.#ipByMac.get(lease.mac);
      // The database keeps one entry per client; a stale one here goes when its deletion is
      // heard, but the newest entry is the client's address from now on.
      if (previous !== undefined && previous !== row.ip && this.#byIp.get(previous)?.state !== 'declined') this.#byIp.delete(previous);
      this.#ipByMac.set(lease.mac, row.ip);
    }
  }

  #delete(ip: string): void {
    const current = this.#byIp.get(ip);
    if (!current) return;
    this.#byIp.delete(ip);
    if (this.#ipByMac.get(current.mac) === ip) this.#ipByMac.delete(current.mac);
  }
}
