/**
 * A switch port as DHCP relay agents name it (option 82, RFC 3046): the circuit id (sub-option
 * 1, the port or interface) and the remote id (sub-option 2, the relay or switch). Both are
 * opaque bytes; here they are text in one canonical form, shared by what relays send and what
 * the config writes, so the two compare as strings.
 */
export interface SwitchPort {
  circuitId: string;
  /** Absent: the relay sends none (ISC dhcrelay sends only the circuit id). */
  remoteId?: string;
}

/**
 * The canonical text of an id: its bytes when they are printable ASCII (what dhcrelay and most
 * switches send: "rack1", "Gi1/0/7"), else "0x" and lower-case hex (binary ids such as a VLAN
 * and port pair). Printable text that itself starts with "0x" is written as hex too, so the
 * two forms never meet.
 */
export function agentIdText(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString('latin1');
  const printable = bytes.length > 0 && bytes.every((b) => b >= 0x20 && b <= 0x7e) && !/^0x/i.test(text);
  return printable ? text : `0x${Buffer.from(bytes).toString('hex')}`;
}

/**
 * An id as the config writes it (text, or 0x and hex for binary ids) in canonical form;
 * undefined when it is neither, or empty, or longer than a sub-option holds (255 bytes).
 */
export function canonicalAgentId(text: string): string | undefined {
  let bytes: Buffer;
  if (/^0x/i.test(text)) {
    if (!/^0x([0-9a-f]{2})+$/i.test(text)) return undefined;
    bytes = Buffer.from(text.slice(2), 'hex');
  } else {
    if (!/^[\x20-\x7e]+$/.test(text)) return undefined;
    bytes = Buffer.from(text, 'latin1');
  }
  return bytes.length === 0 || bytes.length > 255 ? undefined : agentIdText(bytes);
}

/** Both ids in one string, for maps and messages: "circuit rack1" or "circuit Gi1/0/7 on remote sw3". */
export function switchPortText(port: SwitchPort): string {
  return port.remoteId === undefined ? `circuit ${port.circuitId}` : `circuit ${port.circuitId} on remote ${port.remoteId}`;
}

/** Whether two ports are the same: the same circuit, and the same remote id or both without one. */
export function samePort(a: SwitchPort, b: SwitchPort): boolean {
  return a.circuitId === b.circuitId && a.remoteId === b.remoteId;
}
