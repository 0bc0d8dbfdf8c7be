/**
 * Lifecycle of one NBD connection, for the dashboard: `connect`, then `attach` once an export
 * is selected, then exactly one of `disconnect` (clean end) or `error` (refused, garbage,
 * timeout, reset).
 */
export interface NbdEvent {
  readonly type: 'connect' | 'attach' | 'disconnect' | 'error';
  /** "address:port" of the client ("[v6]:port" for IPv6). */
  readonly peer: string;
  readonly export?: string;
  /** Export bytes sent to the client so far. */
  readonly bytesRead: number;
  readonly durationMs: number;
  readonly error?: string;
}
