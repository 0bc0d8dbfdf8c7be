// The capture → trace conversion on a capture built here packet by packet (the real one is
// megabytes): every step kind, think time, a TFTP size probe, a retransmitted NBD segment.
//   node --test dist/bench/storm/trace.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { traceFromPcap } from './trace.js';

const SERVER = '10.77.0.1';
const NODE = '10.77.0.11';
const ip = (a: string) => Buffer.from(a.split('.').map(Number));

function frame(src: string, dst: string, l4: Buffer, proto: number): Buffer {
  const iph = Buffer.alloc(20);
  iph[0] = 0x45;
  iph.writeUInt16BE(20 + l4.length, 2);
  iph[8] = 64;
  iph[9] = proto;
  ip(src).copy(iph, 12);
  ip(dst).copy(iph, 16);
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  return Buffer.concat([eth, iph, l4]);
}
const udp = (src: string, sport: number, dst: string, dport: number, payload: Buffer) => {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0); h.writeUInt16BE(dport, 2); h.writeUInt16BE(8 + payload.length, 4);
  return frame(src, dst, Buffer.concat([h, payload]), 17);
};
const tcp = (src: string, sport: number, dst: string, dport: number, seq: number, payload: Buffer) => {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0); h.writeUInt16BE(dport, 2); h.writeUInt32BE(seq, 4); h[12] = 5 << 4; h[13] = 0x18;
  return frame(src, dst, Buffer.concat([h, payload]), 6);
};
function dhcp(op: number, type: number, xid: number, yiaddr = '0.0.0.0'): Buffer {
  const b = Buffer.alloc(244);
  b[0] = op; b.writeUInt32BE(xid, 4); ip(yiaddr).copy(b, 16); b.writeUInt32BE(0x63825363, 236);
  b[240] = 53; b[241] = 1; b[242] = type; b[243] = 255;
  return b;
}
function pcap(packets: Array<[number, Buffer]>): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0); head.writeUInt16LE(2, 4); head.writeUInt16LE(4, 6); head.writeUInt32LE(65535, 16); head.writeUInt32LE(1, 20);
  return Buffer.concat([head, ...packets.flatMap(([ms, f]) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(Math.floor(ms / 1000), 0); r.writeUInt32LE((ms % 1000) * 1000, 4); r.writeUInt32LE(f.length, 8); r.writeUInt32LE(f.length, 12);
    return [r, f];
  })]);
}
const nbdRead = (offset: number, length: number) => {
  const b = Buffer.alloc(28);
  b.writeUInt32BE(0x25609513, 0); b.writeBigUInt64BE(BigInt(offset), 16); b.writeUInt32BE(length, 24);
  return b;
};

test('a capture of one boot becomes its steps, with think time between them', () => {
  const t = 1_700_000_000_000;
  const tftpData = (n: number, bytes: number) => Buffer.concat([Buffer.from([0, 3, 0, n]), Buffer.alloc(bytes)]);
  const rrq = Buffer.from('\x00\x01undionly.kpxe\0octet\0blksize\x001468\0tsize\x000\0', 'latin1');
  const option = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('IHAVEOPT'), Buffer.from([0, 0, 0, 1, 0, 0, 0, 4]), Buffer.from('root')]);
  const capture = pcap([
    [t, udp('0.0.0.0', 68, '255.255.255.255', 67, dhcp(1, 1, 7))],
    [t + 5, udp(SERVER, 67, '255.255.255.255', 68, dhcp(2, 2, 7, NODE))],
    [t + 9, udp('0.0.0.0', 68, '255.255.255.255', 67, dhcp(1, 3, 7))],
    [t + 20, udp(SERVER, 67, '255.255.255.255', 68, dhcp(2, 5, 7, NODE))],
    // a size probe: one block, then the client aborts; then the real transfer
    [t + 100, udp(NODE, 2000, SERVER, 69, rrq)],
    [t + 101, udp(SERVER, 40000, NODE, 2000, tftpData(1, 1468))],
    [t + 200, udp(NODE, 2001, SERVER, 69, rrq)],
    [t + 201, udp(SERVER, 40001, NODE, 2001, tftpData(1, 1468))],
    [t + 202, udp(SERVER, 40001, NODE, 2001, tftpData(2, 100))],
    [t + 1202, tcp(NODE, 5000, SERVER, 80, 1, Buffer.from('GET /boot/x.ipxe?token=abc HTTP/1.1\r\nHost: s\r\n\r\n'))],
    [t + 1203, tcp(SERVER, 80, NODE, 5000, 1, Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'), Buffer.alloc(400)]))],
    [t + 1204, tcp(SERVER, 80, NODE, 5000, 500, Buffer.alloc(600))],
    [t + 3000, tcp(NODE, 6000, SERVER, 10809, 1, option)],
    [t + 3010, tcp(NODE, 6000, SERVER, 10809, 1 + option.length, nbdRead(4096, 512))],
    [t + 3011, tcp(SERVER, 10809, NODE, 6000, 1, Buffer.alloc(16 + 512))],
    [t + 3050, tcp(NODE, 6000, SERVER, 10809, 1 + option.length + 28, Buffer.concat([nbdRead(8192, 4096), nbdRead(0, 1024)]))],
    [t + 3051, tcp(NODE, 6000, SERVER, 10809, 1 + option.length + 28, Buffer.concat([nbdRead(8192, 4096), nbdRead(0, 1024)]))], // retransmitted
    [t + 3060, tcp(SERVER, 10809, NODE, 6000, 600, Buffer.alloc(100))],
  ]);
  const trace = traceFromPcap(capture, { mode: 'nbd', server: SERVER });
  assert.deepEqual(trace.steps.map((s) => s.kind), ['dhcp', 'tftp', 'tftp', 'http', 'nbd']);
  assert.deepEqual(trace.steps[0], { kind: 'dhcp', gapMs: 0, ms: 20 });
  assert.deepEqual(trace.steps[1], { kind: 'tftp', gapMs: 80, ms: 1, file: 'undionly.kpxe', blksize: 1468, bytes: 1468, complete: false });
  assert.deepEqual(trace.steps[2], { kind: 'tftp', gapMs: 99, ms: 2, file: 'undionly.kpxe', blksize: 1468, bytes: 1568, complete: true });
  assert.deepEqual(trace.steps[3], { kind: 'http', gapMs: 1000, ms: 2, method: 'GET', path: '/boot/x.ipxe?token=abc', status: 200, bytes: 1000, conn: 0, tls: false });
  const nbd = trace.steps[4]!;
  assert.equal(nbd.kind, 'nbd');
  assert.equal(nbd.kind === 'nbd' && nbd.export, 'root');
  assert.deepEqual(nbd.kind === 'nbd' && nbd.reads, [[10, 4096, 512], [39, 8192, 4096], [0, 0, 1024]]);
  assert.equal(nbd.kind === 'nbd' && nbd.bytes, 512 + 4096 + 1024);
  assert.equal(nbd.gapMs, 1796);
  assert.equal(trace.recordedMs, 3060);
});

test('not a capture: a clear error', () => {
  assert.throws(() => traceFromPcap(Buffer.alloc(64), { mode: 'live', server: SERVER }), /Cannot read capture: not a pcap file/);
});
