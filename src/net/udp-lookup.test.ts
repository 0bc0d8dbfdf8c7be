import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { literalLookup } from './udp-lookup.js';

test('literalLookup answers an address literal before it returns, with its family', () => {
  const got: Array<[string, number]> = [];
  literalLookup('10.77.0.2', { family: 4 }, (e, address, family) => { assert.equal(e, null); got.push([address, family]); });
  literalLookup('255.255.255.255', { family: 4 }, (_e, address, family) => got.push([address, family]));
  literalLookup('fe80::1', { family: 6 }, (_e, address, family) => got.push([address, family]));
  assert.deepEqual(got, [['10.77.0.2', 4], ['255.255.255.255', 4], ['fe80::1', 6]]);
});

test('literalLookup hands a name to dns.lookup', async () => {
  const answer = await new Promise<[string, number]>((resolve, reject) => {
    literalLookup('localhost', { family: 4 }, (e, address, family) => (e ? reject(e) : resolve([address, family])));
  });
  assert.equal(answer[1], 4);
  assert.match(answer[0], /^127\./);
});

test('a dgram socket with literalLookup has sent the datagram when send returns', async () => {
  const receiver = createSocket('udp4');
  const sender = createSocket({ type: 'udp4', lookup: literalLookup });
  try {
    await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', resolve));
    const arrived = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no datagram within 2 s: the send was lost with the socket')), 2000);
      receiver.once('message', (msg) => { clearTimeout(timer); resolve(msg); });
    });
    sender.send(Buffer.from('x'), receiver.address().port, '127.0.0.1');
    // Closed in the same turn: with dgram's default lookup the send would still wait for its
    // process.nextTick and find the socket gone.
    sender.close();
    assert.equal((await arrived).toString(), 'x');
  } finally {
    receiver.close();
  }
});
