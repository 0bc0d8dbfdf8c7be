import type { LeaseAction, LeaseView, Lease } from './lease-store.js';

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
