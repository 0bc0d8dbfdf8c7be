import { agentIdText, type SwitchPort } from '../../net/switch-port.js';

/**
 * Option 82, Relay Agent Information (RFC 3046): sub-options a relay agent adds to a client's
 * request, code, length and value each, with no pad or end (§2.0). The server echoes the whole
 * option back in its reply (§2.2) and the relay strips it before the client sees the reply.
 */

/** RFC 3046 §3 and later registrations (RFC 3527 link selection, RFC 3993 subscriber id). */
export const RelayAgentSubOption = {
  CircuitId: 1,
  RemoteId: 2,
  LinkSelection: 5,
  SubscriberId: 6,
} as const;

export interface RelayAgentInfo {
  /** Sub-option 1: the port or circuit the request came in on (dhcrelay: the interface name). */
  circuitId?: Buffer;
  /** Sub-option 2: the relay or switch itself (a MAC, a name, …). */
  remoteId?: Buffer;
  /** Every sub-option in order, those above included. */
  subOptions: ReadonlyArray<{ code: number; value: Buffer }>;
}

/** The sub-options of option 82; undefined when they do not fill it exactly or one repeats. */
export function decodeRelayAgentInfo(bytes: Uint8Array): RelayAgentInfo | undefined {
  if (bytes.length < 2) return undefined;
  const subOptions: Array<{ code: number; value: Buffer }> = [];
  const seen = new Set<number>();
  for (let at = 0; at < bytes.length;) {
    if (at + 2 > bytes.length) return undefined;
    const code = bytes[at]!;
    const length = bytes[at + 1]!;
    if (at + 2 + length > bytes.length || seen.has(code)) return undefined;
    seen.add(code);
    subOptions.push({ code, value: Buffer.from(bytes.subarray(at + 2, at + 2 + length)) });
    at += 2 + length;
  }
  const find = (code: number) => subOptions.find((s) => s.code === code)?.value;
  const circuitId = find(RelayAgentSubOption.CircuitId);
  const remoteId = find(RelayAgentSubOption.RemoteId);
  return { subOptions, ...(circuitId ? { circuitId } : {}), ...(remoteId ? { remoteId } : {}) };
}

export function encodeRelayAgentInfo(info: Pick<RelayAgentInfo, 'subOptions'>): Buffer {
  return Buffer.concat(info.subOptions.map(({ code, value }) => {
    if (value.length > 255) throw new RangeError(`Cannot encode relay agent sub-option ${code}: ${value.length} bytes (max 255)`);
    return Buffer.concat([Buffer.from([code, value.length]), value]);
  }));
}

/** The switch port option 82 names (circuit id, and remote id when sent); undefined without a circuit id. */
export function switchPortOf(info: RelayAgentInfo): SwitchPort | undefined {
  if (info.circuitId === undefined) return undefined;
  return { circuitId: agentIdText(info.circuitId), ...(info.remoteId !== undefined ? { remoteId: agentIdText(info.remoteId) } : {}) };
}
