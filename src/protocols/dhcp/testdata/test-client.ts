import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { decodeDhcpPacket, encodeDhcpPacket, type DhcpPacket } from '../packet.js';

/** A DHCP client on 127.0.0.1 for server tests: sends encoded packets, waits for replies by xid. */
export class TestDhcpClient {
  readonly #socket: Socket;
  readonly #replies: DhcpPacket[] = [];
  readonly #waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message', (msg) => {
      const r = decodeDhcpPacket(msg);
      if (r.ok) this.#replies.push(r.packet);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /**
   * `address` 0.0.0.0 also receives what the server unicasts to a client's own loopback
   * address (an ACK to a RENEWING client goes to ciaddr, RFC 2131 §4.1), e.g. 127.0.0.50.
   */
  static async open(address = '127.0.0.1'): Promise<TestDhcpClient> {
    const socket = createSocket('udp4');
    socket.bind(0, address);
    await once(socket, 'listening');
    return new TestDhcpClient(socket);
  }

  get port(): number { return this.#socket.address().port; }

  send(bytes: Uint8Array | DhcpPacket, port: number): Promise<void> {
    const data = bytes instanceof Uint8Array ? bytes : encodeDhcpPacket(bytes);
    return new Promise((resolve, reject) => this.#socket.send(data, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  }

  /** The next reply with this xid; rejects after `timeoutMs`. */
  async reply(xid: number, timeoutMs = 2000): Promise<DhcpPacket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.#replies.findIndex((p) => p.xid === xid);
      if (at >= 0) return this.#replies.splice(at, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no DHCP reply for xid 0x${xid.toString(16)} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** Resolves true if a reply with this xid arrives within `ms`. */
  async gotReply(xid: number, ms: number): Promise<boolean> {
    return this.reply(xid, ms).then(() => true, () => false);
  }

  close(): void {
    this.#socket.close();
  }
}
