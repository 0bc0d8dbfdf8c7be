import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { bindSocketToInterface, interfaceIndex } from './bind-to-interface.js';
import { DhcpOption } from './dhcp-options.js';
import { DhcpMessageType } from './message-types.js';
import { getOption, setOption } from './option-spec.js';
import { BootOp, BROADCAST_FLAG, decodeDhcpPacket, encodeDhcpPacket, macOf, type DhcpPacket } from './packet.js';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;

/** A DHCP server that answered the probe's DISCOVER. */
export interface DhcpResponder {
  /** Its server identifier (option 54), else the datagram's source address. */
  serverId: string;
  /** Where the OFFER came from (the server itself, or a relay). */
  from: string;
  /** The address it offered (yiaddr), "0.0.0.0" for a proxyDHCP answer. */
  offered: string;
  /** Option 60 of the answer: "PXEClient" for a proxyDHCP or PXE-aware server. */
  vendorClass?: string;
  /** Option 67, or the BOOTP file field, when the answer names a boot file. */
  bootFile?: string;
}

export interface DhcpProbeOptions {
  /** The interface to ask on (SO_BINDTOIFINDEX): nothing goes out of, or is read from, another. */
  interface: string;
  /** The client hardware address the DISCOVER carries: the interface's own MAC. */
  mac: string;
  /**
   * How long to collect answers (default 5000 ms): dnsmasq pings an address for 3 s before it
   * offers it, and the DISCOVER is repeated every 2 s, as clients do.
   */
  waitMs?: number;
  /** Ask as a PXE client (option 60 "PXEClient"), which proxyDHCP servers answer too. */
  pxe?: boolean;
  /** Ports, for tests that cannot bind the privileged ones. */
  serverPort?: number;
  clientPort?: number;
}

/**
 * Sends a DHCPDISCOVER (broadcast flag set, so every answer is broadcast back to port 68) out of
 * `interface` only, every 2 s, and lists the servers that answer with an OFFER within `waitMs`.
 * Nothing is ever requested, so no server binds an address to us. The DISCOVERs carry their own
 * xid, and only answers with it count.
 */
export async function probeDhcpServers(o: DhcpProbeOptions): Promise<DhcpResponder[]> {
  const ifindex = interfaceIndex(o.interface);
  const xid = randomBytes(4).readUInt32BE(0);
  const socket: Socket = createSocket({ type: 'udp4', reuseAddr: true });
  const found = new Map<string, DhcpResponder>();
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(o.clientPort ?? DHCP_CLIENT_PORT, '0.0.0.0', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.setBroadcast(true);
    bindSocketToInterface(socket, ifindex);
    socket.on('message', (msg, rinfo) => {
      const d = decodeDhcpPacket(msg);
      if (!d.ok || d.packet.op !== BootOp.Reply || d.packet.xid !== xid || macOf(d.packet) !== o.mac) return;
      if (getOption(d.packet, DhcpOption.messageType) !== DhcpMessageType.Offer) return;
      const serverId = getOption(d.packet, DhcpOption.serverIdentifier) ?? rinfo.address;
      const vendorClass = getOption(d.packet, DhcpOption.vendorClassIdentifier);
      const bootFile = getOption(d.packet, DhcpOption.bootfileName) ?? (d.packet.file || undefined);
      if (!found.has(serverId)) {
        found.set(serverId, {
          serverId,
          from: rinfo.address,
          offered: d.packet.yiaddr,
          ...(vendorClass !== undefined ? { vendorClass } : {}),
          ...(bootFile !== undefined ? { bootFile } : {}),
        });
      }
    });
    const waitMs = o.waitMs ?? 5000;
    const started = Date.now();
    for (let sent = 0; ; sent++) {
      // secs grows as a real client's does: some servers ignore a client until it has waited.
      const discover = discoverPacket(xid, o.mac, o.pxe ?? false, Math.floor((Date.now() - started) / 1000));
      await new Promise<void>((resolve, reject) => socket.send(discover, o.serverPort ?? DHCP_SERVER_PORT, '255.255.255.255', (e) => (e ? reject(e) : resolve())));
      const left = started + waitMs - Date.now();
      if (left <= 0) break;
      await new Promise((r) => setTimeout(r, Math.min(left, RESEND_MS)));
      if (Date.now() >= started + waitMs) break;
    }
  } finally {
    socket.close();
  }
  return [...found.values()];
}

/** How often the DISCOVER is sent again while answers are collected. */
const RESEND_MS = 2000;

function discoverPacket(xid: number, mac: string, pxe: boolean, secs: number): Buffer {
  const chaddr = Buffer.alloc(16);
  Buffer.from(mac.replace(/:/g, ''), 'hex').copy(chaddr);
  const p: DhcpPacket = {
    op: BootOp.Request, htype: 1, hlen: 6, hops: 0, xid, secs, flags: BROADCAST_FLAG,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr, sname: '', file: '', options: new Map(),
  };
  setOption(p, DhcpOption.messageType, DhcpMessageType.Discover);
  setOption(p, DhcpOption.parameterRequestList, [1, 3, 6, 15, 28, 51, 54, 60, 66, 67]);
  if (pxe) {
    setOption(p, DhcpOption.vendorClassIdentifier, 'PXEClient:Arch:00000:UNDI:002001');
    setOption(p, DhcpOption.clientArchitectures, [0]);
  }
  return encodeDhcpPacket(p);
}
