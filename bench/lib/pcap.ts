import { readFile } from 'node:fs/promises';
import { decodeDhcpPacket, macOf, type DhcpPacket } from '../../src/protocols/dhcp/packet.js';

/**
 * The DHCP messages in a tcpdump capture (classic pcap, Ethernet link type): IPv4, UDP, the
 * payload decoded. Used to check from the wire what a benchmark's servers told their clients.
 */
export async function dhcpPacketsInPcap(path: string): Promise<DhcpPacket[]> {
  const b = await readFile(path);
  if (b.length < 24) return [];
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${path} is not a pcap file`);
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  if (u32(20) !== 1) throw new Error(`${path}: link type ${u32(20)}, not Ethernet`);
  const out: DhcpPacket[] = [];
  for (let o = 24; o + 16 <= b.length;) {
    const caught = u32(o + 8);
    const frame = b.subarray(o + 16, o + 16 + caught);
    o += 16 + caught;
    if (frame.length < 14 + 20 + 8 || frame.readUInt16BE(12) !== 0x0800) continue;
    const ip = frame.subarray(14);
    const ihl = (ip[0]! & 0x0f) * 4;
    if (ip[9] !== 17) continue;
    const udp = ip.subarray(ihl);
    const decoded = decodeDhcpPacket(udp.subarray(8));
    if (decoded.ok) out.push(decoded.packet);
  }
  return out;
}

/** Addresses ACKed to more than one client in `packets`: address → the MACs. */
export function addressesAckedTwice(packets: readonly DhcpPacket[], isAck: (p: DhcpPacket) => boolean): Map<string, string[]> {
  const byIp = new Map<string, Set<string>>();
  for (const p of packets) {
    if (!isAck(p) || p.yiaddr === '0.0.0.0') continue;
    let macs = byIp.get(p.yiaddr);
    if (!macs) byIp.set(p.yiaddr, (macs = new Set()));
    macs.add(macOf(p));
  }
  return new Map([...byIp].filter(([, m]) => m.size > 1).map(([ip, m]) => [ip, [...m]]));
}
