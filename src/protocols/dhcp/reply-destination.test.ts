import { it } from 'node:test';
import assert from 'node:assert/strict';
import { replyDestination, type ReplyRoute } from './reply-destination.js';
import { clientPacket, type ClientPacketFields } from './testdata/client-packets.js';
import { DhcpMessageType } from './message-types.js';

const MAC = '52:54:00:00:00:01';
const PEER = { address: '10.0.0.77', port: 40000 };

function route(request: Partial<ClientPacketFields>, replyType: number, via: 'server' | 'proxy' = 'server'): ReplyRoute {
  return {
    request: clientPacket({ type: DhcpMessageType.Request, mac: MAC, ...request }),
    reply: clientPacket({ type: replyType, mac: MAC }),
    via,
    peer: PEER,
    ports: { server: 67, client: 68 },
    broadcastAddress: '255.255.255.255',
  };
}

const cases: Array<[string, ReplyRoute, { address: string; port: number }]> = [
  ['relayed: to the relay agent on the server port', route({ giaddr: '10.1.0.1', ciaddr: '10.1.0.9' }, DhcpMessageType.Ack), { address: '10.1.0.1', port: 67 }],
  ['relayed NAK: still to the relay', route({ giaddr: '10.1.0.1' }, DhcpMessageType.Nak), { address: '10.1.0.1', port: 67 }],
  ['renewing client: unicast to ciaddr', route({ ciaddr: '10.0.0.9' }, DhcpMessageType.Ack), { address: '10.0.0.9', port: 68 }],
  ['NAK to a client with ciaddr: broadcast', route({ ciaddr: '10.0.0.9' }, DhcpMessageType.Nak), { address: '255.255.255.255', port: 68 }],
  ['client without an address: broadcast', route({}, DhcpMessageType.Offer), { address: '255.255.255.255', port: 68 }],
  ['proxy port: back to the sender', route({ ciaddr: '10.0.0.9' }, DhcpMessageType.Ack, 'proxy'), PEER],
];

for (const [name, r, expected] of cases) {
  it(name, () => assert.deepEqual(replyDestination(r), expected));
}
