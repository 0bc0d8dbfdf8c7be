/**
 * One thing that happened to one machine, in one shape for every source: DHCP, TFTP, HTTP and
 * NBD (what the server saw) and the node's own reports (what /init and the booted system say).
 * The store, the node-state reducer, the metrics and the API all read only this.
 */
export type BootEventKind =
  | 'dhcp'
  | 'tftp'
  | 'http'
  | 'nbd'
  /** A report from the node's /init: `name` is the stage, `fields.status` ok/started/done/retry. */
  | 'stage'
  /** The booted system said it is up. */
  | 'booted'
  /** The node said a stage failed: `name` is the stage, `detail` the cause. */
  | 'failed'
  /** Something an admin should look at that no node reported, e.g. from the server itself. */
  | 'alert'
  /** A step of a rollout (`name`: wave, node-failed, stopped…; `fields.rollout` its id); no node's boot state. */
  | 'rollout';

export const BOOT_EVENT_KINDS: readonly BootEventKind[] = ['dhcp', 'tftp', 'http', 'nbd', 'stage', 'booted', 'failed', 'alert', 'rollout'];

export interface BootEvent {
  /** Position in the store, from 1, strictly increasing, never reused (survives restarts). */
  readonly seq: number;
  /** Milliseconds since the epoch, from the server's clock. */
  readonly time: number;
  /** Lower-case colon form; absent when a peer could not be tied to a machine. */
  readonly mac?: string;
  readonly ip?: string;
  readonly kind: BootEventKind;
  /** Short word within the kind: a DHCP message type, a transfer phase, a stage name. */
  readonly name: string;
  /** One line for people: a file, a path and status, a cause. */
  readonly detail: string;
  readonly durationMs?: number;
  readonly bytes?: number;
  /** Source-specific values, as strings so they store and index the same everywhere. */
  readonly fields: Readonly<Record<string, string>>;
}

/** An event before the store numbers it. */
export type NewBootEvent = Omit<BootEvent, 'seq'>;
