// A client for dead-peer.test.ts, run inside a network namespace: attaches to an export, then
// either sends one READ and never reads the reply ('read') or sends nothing more ('idle'), and
// stays until killed. Prints "attached" once the export is attached.
// Usage: node attach-and-wait.js HOST PORT EXPORT read|idle
import { Command } from '../constants.js';
import { RawClient } from './raw-client.js';

const [host, port, name, mode] = process.argv.slice(2);
if (!host || !port || !name || (mode !== 'read' && mode !== 'idle')) {
  process.stderr.write('usage: attach-and-wait.js HOST PORT EXPORT read|idle\n');
  process.exit(2);
}
const client = await RawClient.connect(Number(port), host);
await client.attach(name);
if (mode === 'read') {
  client.socket.pause(); // the reply stays unread: in flight, for the server, until acknowledged
  client.send({ flags: 0, command: Command.READ, cookie: 1n, offset: 0n, length: 8 * 1024 * 1024 });
}
process.stdout.write('attached\n');
setInterval(() => {}, 1 << 30);
