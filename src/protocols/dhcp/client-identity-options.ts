/** Options a client uses to say who it is: 61 (RFC 2132 §9.14), 94 and 97 (RFC 4578 §2.2–2.3). */

export interface ClientIdentifier {
  /** ARP hardware type for hardware-address ids (1 = Ethernet), 0 for other ids, 255 for RFC 4361. */
  type: number;
  id: Buffer;
}

export function decodeClientIdentifier(bytes: Uint8Array): ClientIdentifier | undefined {
  if (bytes.length < 2) return undefined;
  return { type: bytes[0]!, id: Buffer.from(bytes.subarray(1)) };
}

export function encodeClientIdentifier(value: ClientIdentifier): Buffer {
  return Buffer.concat([Buffer.from([value.type & 0xff]), value.id]);
}

/** Option 94: the UNDI version the firmware implements (type 1 = UNDI, e.g. 2.1 or 3.10). */
export interface ClientNetworkInterface {
  type: number;
  major: number;
  minor: number;
}

export function decodeClientNetworkInterface(bytes: Uint8Array): ClientNetworkInterface | undefined {
  if (bytes.length !== 3) return undefined;
  return { type: bytes[0]!, major: bytes[1]!, minor: bytes[2]! };
}

export function encodeClientNetworkInterface(value: ClientNetworkInterface): Buffer {
  return Buffer.from([value.type, value.major, value.minor].map((n) => n & 0xff));
}

/** Option 97: type 0 followed by the 16-byte SMBIOS system UUID (RFC 4578 §2.3). */
export interface ClientMachineId {
  type: number;
  guid: Buffer;
}

export function decodeClientMachineId(bytes: Uint8Array): ClientMachineId | undefined {
  if (bytes.length !== 17 || bytes[0] !== 0) return undefined;
  return { type: 0, guid: Buffer.from(bytes.subarray(1)) };
}

export function encodeClientMachineId(value: ClientMachineId): Buffer {
  if (value.guid.length !== 16) throw new RangeError(`Cannot encode option 97: GUID is ${value.guid.length} bytes, not 16`);
  return Buffer.concat([Buffer.from([value.type & 0xff]), value.guid]);
}
