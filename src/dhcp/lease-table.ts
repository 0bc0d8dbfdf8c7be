export type LeaseState = 'offered' | 'bound' | 'declined';

export interface Lease {
  ip: string;
  /** The client holding it; for a declined address, the client that declined it. */
  mac: string;
  state: LeaseState;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  hostname?: string;
  /** The inventory node the client was taken for (nodeKey), when it is one. */
  node?: string;
}

/** What the policy may ask of the lease table; the policy itself never writes. */
export type LeaseAction =
  | { kind: 'offer'; mac: string; ip: string; holdSec: number; node?: string }
  | { kind: 'bind'; mac: string; ip: string; leaseSec: number; hostname?: string; node?: string }
  | { kind: 'release'; mac: string; ip: string }
  | { kind: 'decline'; mac: string; ip: string; holdSec: number }
  /**
   * The client took another server's offer (RFC 2131 §4.3.2, SELECTING) of `ip` (its option
   * 50): where servers share the table, an offer of that same address is the chosen server's.
   */
  | { kind: 'cancel-offer'; mac: string; ip?: string };

/** The read side the policy sees. */
export interface LeaseView {
  /** This client's lease, current or expired (an expired one is still its preferred address). */
  leaseForMac(mac: string): Lease | undefined;
  /**
   * No unexpired lease of another client and no unexpired decline holds `ip`. A lease of the
   * same inventory node `node` (another machine on its switch port: a replaced mainboard) is
   * not another client's.
   */
  isAvailable(ip: string, mac: string, node?: string): boolean;
  /** `ip` is offered or bound to `mac` right now (an unexpired offer or lease). */
  isHeldBy(ip: string, mac: string): boolean;
  /** Whatever entry `ip` has, expired or not (an expired offer is a client that may still ask). */
  leaseForIp(ip: string): Lease | undefined;
}

/**
 * The lease table behind a DHCP server, wherever it is kept: STATE/dhcp-leases.json for one
 * server (LeaseStore), or the shared database of several (the postgres room). The policy reads
 * it synchronously through LeaseView; a change is applied through `change`, whose `durable`
 * says when the change is stored: an ACK leaves only then (RFC 2131 §3.1 step 4), and where
 * several servers share the table an OFFER too, since the address must be claimed before it
 * is offered.
 */
export interface LeaseTable extends LeaseView {
  /**
   * Applies `action`. `durable` is absent when nothing needs storing (the file table's offers
   * and declines), resolves once the change is stored, and rejects when it could not be: with
   * LeaseConflictError when another server's client holds the address (the view already knows
   * it, so deciding again picks another), with another error when the store failed.
   */
  change(action: LeaseAction): LeaseChange;
  /** Every entry, expired ones included; for status views. */
  list(): Lease[];
  /** Waits for changes under way (stop). */
  flush(): Promise<void>;
}

export interface LeaseChange {
  readonly durable?: Promise<void>;
}

/** Another client holds the address in the shared table: the decision is made again. */
export class LeaseConflictError extends Error {
  override name = 'LeaseConflictError';

  constructor(readonly ip: string) {
    super(`${ip} is held by another client`);
  }
}

/**
 * A change the table does not attempt now: the client's previous one is still being stored, or
 * too many are waiting. The request is dropped quietly; the client's retransmission retries.
 */
export class LeaseBusyError extends Error {
  override name = 'LeaseBusyError';

  constructor(readonly mac: string, why: string) {
    super(`lease change for ${mac} not attempted: ${why}`);
  }
}
