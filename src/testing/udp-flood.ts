import { createSocket } from 'node:dgram';

export interface FloodOptions {
  readonly port: number;
  readonly count: number;
  /** The i-th datagram; called once per packet, so a seeded generator replays. */
  readonly packet: (i: number) => Uint8Array;
  /** How many datagrams the server has handled so far (from its logger or events). */
  readonly seen: () => number;
  /**
   * Datagrams allowed in flight (sent, not yet seen by the server). The server shares this
   * event loop and reads only when the sender yields; a small window keeps the socket's
   * receive buffer from overflowing, so the test measures the server, not kernel drops.
   */
  readonly window?: number;
  /** Source address, default 127.0.0.1; another loopback address (127.0.0.2) is another host. */
  readonly from?: string;
}

export interface FloodResult {
  readonly sent: number;
  readonly seen: number;
  /** Datagrams the server sent back to the flooding socket. */
  readonly replies: number;
  readonly ms: number;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Sends `count` datagrams from one loopback socket to 127.0.0.1, waiting whenever `window` are unseen. */
export async function floodUdp(o: FloodOptions): Promise<FloodResult> {
  const window = o.window ?? 64;
  const socket = createSocket('udp4');
  let replies = 0;
  socket.on('message', () => { replies++; });
  await new Promise<void>((resolve) => socket.bind(0, o.from ?? '127.0.0.1', () => resolve()));
  const started = Date.now();
  const base = o.seen();
  const seen = (): number => o.seen() - base;
  /** Waits until at most `allowed` are unseen, or the server stops making progress (drops). */
  const catchUp = async (sent: number, allowed: number, stallMs: number): Promise<void> => {
    let last = seen();
    let lastChange = Date.now();
    while (sent - seen() > allowed) {
      await tick();
      const now = seen();
      if (now !== last) { last = now; lastChange = Date.now(); }
      else if (Date.now() - lastChange > stallMs) return;
    }
  };
  try {
    for (let i = 0; i < o.count; i++) {
      socket.send(o.packet(i), o.port, '127.0.0.1');
      if (i % 16 === 15) await catchUp(i + 1, window, 50);
    }
    await catchUp(o.count, 0, 500);
    // Replies to the last datagrams may still be on their way: linger until they stop coming.
    for (let before = -1; before !== replies;) {
      before = replies;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { sent: o.count, seen: seen(), replies, ms: Date.now() - started };
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
