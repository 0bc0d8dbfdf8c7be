/**
 * A security alert the identity code also logs (`alert: true`): handed to a hook as data so
 * the event store records it for the dashboard and `diskless events`, rather than anyone
 * having to parse log lines for it.
 */
export interface SecurityAlert {
  /** Short word: `token-refused`, `script-for-other-machine`. */
  name: string;
  /** The machine the alert is about (the MAC claimed or named in the URL). */
  mac?: string;
  /** The address the request came from. */
  ip?: string;
  detail: string;
  fields: Record<string, string>;
}

export type AlertHook = (alert: SecurityAlert) => void;
