import { createSocket, type Socket } from 'node:dgram';
import { decodeTftpPacket } from '../decode.js';
import { encodeAck, encodeTftpPacket } from '../encode.js';
import type { TftpOption, TftpPacket } from '../packet.js';

export interface From { address: string; port: number }

/** A raw UDP endpoint for driving the server packet by packet. */
export class TestClient {
  readonly socket: Socket;
  readonly #queue: Array<{ packet: TftpPacket; from: From }> = [];
  #waiter: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      const r = decodeTftpPacket(msg);
      if (!r.ok) throw new Error(`Cannot decode server packet: ${r.error}`);
      this.#queue.push({ packet: r.packet, from: { address: rinfo.address, port: rinfo.port } });
      this.#waiter?.();
    });
  }

  /** Bound to `address` on a free port; another loopback address (127.0.0.2) stands for another host. */
  static async open(address = '127.0.0.1'): Promise<TestClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
    return new TestClient(socket);
  }

  get port(): number { return this.socket.address().port; }

  send(bytes: Uint8Array, port: number): void {
    this.socket.send(bytes, port, '127.0.0.1');
  }

  sendPacket(packet: TftpPacket, port: number): void {
    this.send(encodeTftpPacket(packet), port);
  }

  /** The next packet, or undefined after `timeoutMs` of silence. */
  async next(timeoutMs = 2000): Promise<{ packet: TftpPacket; from: From } | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiter = () => { clearTimeout(t); resolve(); };
      });
      this.#waiter = undefined;
    }
    return this.#queue.shift();
  }

  /** Packets that arrive within `ms`. */
  async collect(ms: number): Promise<TftpPacket[]> {
    const out: TftpPacket[] = [];
    const deadline = Date.now() + ms;
    for (;;) {
      const n = await this.next(Math.max(0, deadline - Date.now()));
      if (!n) return out;
      out.push(n.packet);
    }
  }

  close(): void {
    this.socket.close();
  }
}

export interface FetchResult {
  data: Buffer;
  dataPackets: number;
  oack?: readonly TftpOption[];
  error?: { code: number; message: string };
}

/**
 * A minimal RFC 1350/2347/7440 reader for tests: acknowledges the last block of each window,
 * optionally twice (to provoke the Sorcerer's Apprentice bug), from `from` (default 127.0.0.1).
 */
export async function fetchFile(
  serverPort: number,
  filename: string,
  options: TftpOption[] = [],
  behaviour: { duplicateAcks?: boolean; from?: string } = {},
): Promise<FetchResult> {
  const client = await TestClient.open(behaviour.from);
  try {
    client.sendPacket({ type: 'rrq', filename, mode: 'octet', options }, serverPort);
    let blksize = 512;
    let windowsize = 1;
    let expected = 1;
    let inWindow = 0;
    let dataPackets = 0;
    let oack: readonly TftpOption[] | undefined;
    const chunks: Buffer[] = [];
    const ack = (block: number, port: number) => {
      client.send(encodeAck(block), port);
      if (behaviour.duplicateAcks) client.send(encodeAck(block), port);
    };
    for (;;) {
      const n = await client.next(5000);
      if (!n) throw new Error(`Cannot fetch ${filename}: timed out at block ${expected}`);
      const { packet, from } = n;
      if (packet.type === 'error') {
        return { data: Buffer.concat(chunks), dataPackets, ...(oack ? { oack } : {}), error: { code: packet.code, message: packet.message } };
      }
      if (packet.type === 'oack') {
        oack = packet.options;
        for (const o of packet.options) {
          if (o.name === 'blksize') blksize = Number(o.value);
          if (o.name === 'windowsize') windowsize = Number(o.value);
        }
        ack(0, from.port);
        continue;
      }
      if (packet.type !== 'data') throw new Error(`Cannot fetch ${filename}: unexpected ${packet.type}`);
      dataPackets++;
      if (packet.block !== (expected & 0xffff)) continue;
      chunks.push(Buffer.from(packet.data));
      expected++;
      inWindow++;
      const last = packet.data.length < blksize;
      if (last || inWindow === windowsize) {
        ack(packet.block, from.port);
        inWindow = 0;
      }
      if (last) {
        // Linger briefly so a buggy server's extra packets would be counted.
        dataPackets += (await client.collect(150)).filter((p) => p.type === 'data').length;
        return { data: Buffer.concat(chunks), dataPackets, ...(oack ? { oack } : {}) };
      }
    }
  } finally {
    client.close();
  }
}
