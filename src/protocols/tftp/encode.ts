import { ByteWriter } from '../../bytes/writer.js';
import { Opcode, type TftpOption, type TftpPacket } from './packet.js';

/** Turns a packet into its wire bytes. Throws only on a caller bug: a string with a NUL in it. */
export function encodeTftpPacket(packet: TftpPacket): Buffer {
  switch (packet.type) {
    case 'rrq':
    case 'wrq': {
      const w = new ByteWriter(4 + packet.filename.length + packet.mode.length);
      w.u16(packet.type === 'rrq' ? Opcode.RRQ : Opcode.WRQ);
      writeString(w, packet.filename, 'filename');
      writeString(w, packet.mode, 'mode');
      writeOptions(w, packet.options);
      return w.finish();
    }
    case 'data':
      return encodeData(packet.block, packet.data);
    case 'ack':
      return encodeAck(packet.block);
    case 'error':
      return encodeError(packet.code, packet.message);
    case 'oack':
      return encodeOack(packet.options);
  }
}

export function encodeData(block: number, data: Uint8Array): Buffer {
  // Hot path (one call per block of a 50 MB image): one allocation, no writer.
  const out = Buffer.allocUnsafe(4 + data.length);
  out.writeUInt16BE(Opcode.DATA, 0);
  out.writeUInt16BE(block & 0xffff, 2);
  out.set(data, 4);
  return out;
}

export function encodeAck(block: number): Buffer {
  return new ByteWriter(4).u16(Opcode.ACK).u16(block).finish();
}

export function encodeError(code: number, message: string): Buffer {
  const w = new ByteWriter(5 + message.length).u16(Opcode.ERROR).u16(code);
  writeString(w, message, 'error message');
  return w.finish();
}

export function encodeOack(options: readonly TftpOption[]): Buffer {
  const w = new ByteWriter(64).u16(Opcode.OACK);
  writeOptions(w, options);
  return w.finish();
}

function writeOptions(w: ByteWriter, options: readonly TftpOption[]): void {
  for (const { name, value } of options) {
    writeString(w, name, 'option name');
    writeString(w, value, 'option value');
  }
}

function writeString(w: ByteWriter, s: string, what: string): void {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.includes(0)) throw new RangeError(`Cannot encode ${what}: it contains a NUL byte`);
  w.bytes(bytes).u8(0);
}
