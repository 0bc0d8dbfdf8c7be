// The lab's user-space VLAN port against the namespace's real kernel: a "machine" (a UDP socket
// where QEMU's NIC would be) asks the bridge's address by ARP; only a request tagged with the
// port's VLAN is answered, and the answer comes back tagged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LabNetwork } from './netns.js';
import { addVlanPort } from './vlan-port.js';

// Sends untagged, VID 21 and VID 20 ARP requests for 10.77.0.1, in that order, from
// 52:54:00:aa:bb:cc as 10.77.0.50, .51 and .52; prints each ARP reply's VID (or "untagged")
// and the address it answers, as it arrives.
const MACHINE = `
const dgram = require('node:dgram');
const [port, machine] = process.argv.slice(1).map(Number);
const s = dgram.createSocket('udp4');
const mac = Buffer.from('525400aabbcc', 'hex');
const arp = (host) => Buffer.concat([Buffer.from('0001080006040001', 'hex'), mac, Buffer.from([10, 77, 0, host]), Buffer.alloc(6), Buffer.from([10, 77, 0, 1])]);
const frame = (vid, host) => Buffer.concat([Buffer.alloc(6, 0xff), mac, vid === undefined ? Buffer.alloc(0) : Buffer.from([0x81, 0, vid >> 8, vid & 255]), Buffer.from([8, 6]), arp(host)]);
s.on('message', (m) => {
  const tagged = m[12] === 0x81 && m[13] === 0;
  const at = tagged ? 18 : 14;
  if (m.readUInt16BE(at - 2) !== 0x0806 || m.readUInt16BE(at + 6) !== 2) return;
  console.log((tagged ? String(m.readUInt16BE(14) & 0xfff) : 'untagged') + ' ' + m.subarray(at + 24, at + 28).join('.'));
  if (tagged) process.exit(0);
});
s.bind(machine, '127.0.0.1', () => {
  for (const [vid, host] of [[undefined, 50], [21, 51], [20, 52]]) s.send(frame(vid, host), port, '127.0.0.1');
});
setTimeout(() => { console.log('timeout'); process.exit(1); }, 10000);
`;

test('vlan port: only frames tagged with its VLAN reach the bridge, and the bridge answers tagged', { skip: process.getuid?.() !== 0 ? 'needs root for namespaces' : false }, async (t) => {
  const net = await LabNetwork.create();
  t.after(() => net.destroy());
  const port = await addVlanPort(net, 20);
  const r = await net.exec(net.name, [process.execPath, '-e', MACHINE, String(port.udp.port), String(port.udp.machine)], { check: false, timeoutMs: 20_000 });
  // The kernel answers requests in order: an answer to the untagged or VID 21 request would come first.
  assert.equal(r.stdout.trim(), '20 10.77.0.52', r.stderr);
  assert.match((await net.exec(net.name, ['ip', '-o', 'link', 'show', port.tap])).stdout, /master br0/);
});
