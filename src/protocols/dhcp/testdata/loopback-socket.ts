import { createSocket, type Socket, type SocketOptions } from 'node:dgram';

/**
 * A dgram factory for server tests whose sockets refuse to send anywhere but 127.0.0.0/8, so a
 * fuzzed packet with a random giaddr or ciaddr can never put traffic on a real network.
 * Refused destinations are recorded for the test to assert on.
 */
export function loopbackOnlySockets(): { create: (o: SocketOptions) => Socket; refused: string[] } {
  const refused: string[] = [];
  const create = (options: SocketOptions): Socket => {
    const socket = createSocket(options);
    const send = socket.send.bind(socket) as (...args: unknown[]) => void;
    socket.send = ((...args: unknown[]) => {
      const address = args[2];
      if (typeof address !== 'string' || !address.startsWith('127.')) {
        refused.push(String(address));
        const callback = args.find((a) => typeof a === 'function') as ((e: Error | null) => void) | undefined;
        callback?.(null);
        return;
      }
      send(...args);
    }) as Socket['send'];
    return socket;
  };
  return { create, refused };
}
