import { createSocket, type Socket, type SocketOptions } from 'node:dgram';

/** A datagram a test socket kept off the network: where it was to go, and what. */
export interface RefusedDatagram {
  address: string;
  port: number;
  bytes: Buffer;
}

/**
 * A dgram factory for server tests whose sockets refuse to send anywhere but 127.0.0.0/8, so a
 * fuzzed packet with a random giaddr or ciaddr can never put traffic on a real network.
 * Refused destinations are recorded for the test to assert on.
 */
export function loopbackOnlySockets(): { create: (o: SocketOptions) => Socket; refused: string[]; refusedDatagrams: RefusedDatagram[] } {
  const refused: string[] = [];
  const refusedDatagrams: RefusedDatagram[] = [];
  const create = (options: SocketOptions): Socket => {
    const socket = createSocket(options);
    const send = socket.send.bind(socket) as (...args: unknown[]) => void;
    socket.send = ((...args: unknown[]) => {
      const address = args[2];
      if (typeof address !== 'string' || !address.startsWith('127.')) {
        refused.push(String(address));
        // The server sends as send(bytes, port, address, callback).
        if (Buffer.isBuffer(args[0]) && typeof args[1] === 'number') refusedDatagrams.push({ address: String(address), port: args[1], bytes: args[0] });
        const callback = args.find((a) => typeof a === 'function') as ((e: Error | null) => void) | undefined;
        callback?.(null);
        return;
      }
      send(...args);
    }) as Socket['send'];
    return socket;
  };
  return { create, refused, refusedDatagrams };
}
