import { createSocket as createDgramSocket, type RemoteInfo, type Socket, type SocketOptions } from 'node:dgram';
import { nullLogger, type Logger, type LogLevel } from '../../log/logger.js';
import { ThrottledWarning } from '../../log/throttled-warning.js';
import { decideDhcpReply, type DhcpDecision } from '../../boot/dhcp-policy.js';
import type { DhcpNode, DhcpSettings } from '../../boot/dhcp-settings.js';
import type { LeaseStore } from '../../boot/lease-store.js';
import { PoolCursor } from '../../boot/address-choice.js';
import { macOf } from '../../boot/classify-client.js';
import { bindSocketToInterface, interfaceIndex } from './bind-to-interface.js';
import { DhcpOption } from './dhcp-options.js';
import { DhcpMessageType } from './message-types.js';
import { getOption } from './option-spec.js';
import { decodeDhcpPacket, encodeDhcpPacket, type DhcpPacket } from './packet.js';
import { replyDestination } from './reply-destination.js';
import { ZERO_IPV4 } from './ipv4-bytes.js';

export type DhcpEventType = 'discover' | 'offer' | 'request' | 'ack' | 'nak' | 'release' | 'decline' | 'inform' | 'drop';

export interface DhcpEvent {
  type: DhcpEventType;
  mac: string;
  xid: number;
  ip?: string;
  file?: string;
  reason?: string;
  /** UDP port the request came from: 68 from a client, 67 from a relay; any other took no privilege to send. */
  peerPort?: number;
  /** Milliseconds since the epoch, from the server's clock. */
  at: number;
}

export interface DhcpServerOptions {
  settings: DhcpSettings;
  lookupNode: (mac: string) => DhcpNode | undefined;
  leaseStore: LeaseStore;
  logger?: Logger;
  /** Milliseconds since the epoch; stamps events. */
  now?: () => number;
  /** dgram factory; tests inject one that refuses to send off loopback. */
  createSocket?: (options: SocketOptions) => Socket;
  onEvent?: (event: DhcpEvent) => void;
  /** MAC of the node holding a fixed reservation for `ip`, so the pool never hands it out. */
  reservedBy?: (ip: string) => string | undefined;
  /** Where "broadcast" replies go: 255.255.255.255 unless a loopback test says otherwise. */
  broadcastTarget?: string;
  /** Every decided request from a MAC that lookupNode does not know, whatever the answer. */
  onUnknownClient?: (request: DhcpPacket, decision: DhcpDecision) => void;
}

const EVENT_BY_REQUEST: ReadonlyMap<number, DhcpEventType> = new Map([
  [DhcpMessageType.Discover, 'discover'],
  [DhcpMessageType.Request, 'request'],
  [DhcpMessageType.Decline, 'decline'],
  [DhcpMessageType.Release, 'release'],
  [DhcpMessageType.Inform, 'inform'],
]);

const EVENT_BY_REPLY: ReadonlyMap<number, DhcpEventType> = new Map([
  [DhcpMessageType.Offer, 'offer'],
  [DhcpMessageType.Ack, 'ack'],
  [DhcpMessageType.Nak, 'nak'],
]);

type Port = 'server' | 'proxy';

/** At most one warning a minute about suspicious requests (spoofed DECLINEs), however many arrive. */
const SUSPICIOUS_WARNING_INTERVAL_MS = 60_000;

/**
 * The DHCP socket loop: port 67 (and 4011 in proxy mode) in, `decideDhcpReply` for every
 * packet, replies routed per RFC 2131 §4.1. A bad packet or a failing hook is logged and
 * dropped; nothing a client sends stops the service.
 */
export class DhcpServer {
  readonly #options: DhcpServerOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #sockets = new Map<Port, Socket>();
  readonly #poolCursor = new PoolCursor();
  readonly #suspicious: ThrottledWarning;

  constructor(options: DhcpServerOptions) {
    this.#options = options;
    this.#log = (options.logger ?? nullLogger).child({ service: 'dhcp' });
    this.#now = options.now ?? Date.now;
    this.#suspicious = new ThrottledWarning(this.#log, 'dhcp suspicious request dropped', SUSPICIOUS_WARNING_INTERVAL_MS, this.#now);
  }

  /** The ports actually bound (differs from settings when they say 0). */
  get boundPorts(): { server?: number; proxy?: number } {
    const out: { server?: number; proxy?: number } = {};
    for (const [port, socket] of this.#sockets) out[port] = socket.address().port;
    return out;
  }

  async start(): Promise<void> {
    if (this.#sockets.size > 0) throw new Error('Cannot start DHCP server: already running');
    const { settings } = this.#options;
    const ifindex = settings.interfaceName === undefined ? undefined : interfaceIndex(settings.interfaceName);
    try {
      await this.#open('server', settings.ports.server, ifindex);
      if (settings.mode === 'proxy') await this.#open('proxy', settings.ports.proxy, ifindex);
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.#log.log('info', 'dhcp listening', {
      mode: settings.mode, interface: settings.interfaceName, ...this.boundPorts,
    });
  }

  /** Closes the sockets, then waits for lease writes already under way (declines, releases). */
  async stop(): Promise<void> {
    const sockets = [...this.#sockets.values()];
    this.#sockets.clear();
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    })));
    await this.#options.leaseStore.flush();
  }

  async #open(port: Port, number: number, ifindex: number | undefined): Promise<void> {
    const socket = (this.#options.createSocket ?? createDgramSocket)({ type: 'udp4', reuseAddr: true });
    this.#sockets.set(port, socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: number, address: '0.0.0.0' }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.setBroadcast(true);
    if (ifindex !== undefined) bindSocketToInterface(socket, ifindex);
    socket.on('error', (err) => this.#log.log('error', 'dhcp socket error', { port, error: err.message }));
    socket.on('message', (msg, rinfo) => this.#receive(port, socket, msg, rinfo));
  }

  #receive(port: Port, socket: Socket, msg: Buffer, rinfo: RemoteInfo): void {
    const peer = `${rinfo.address}:${rinfo.port}`;
    // Everything up to the lease change runs synchronously, in arrival order; only a reply
    // that waits for its lease to be on disk continues later.
    this.#handle(port, socket, msg, rinfo, peer).catch((err: unknown) => {
      this.#log.log('error', 'dhcp handler failed', { peer, error: err instanceof Error ? err.message : String(err) });
    });
  }

  async #handle(port: Port, socket: Socket, msg: Buffer, rinfo: RemoteInfo, peer: string): Promise<void> {
    const decoded = decodeDhcpPacket(msg);
    if (!decoded.ok) {
      this.#log.log('warn', 'dhcp packet dropped', { peer, error: decoded.error });
      return;
    }
    const request = decoded.packet;
    const { settings, leaseStore } = this.#options;
    const mac = macOf(request);
    const node = this.#options.lookupNode(mac);
    const decision = decideDhcpReply({
      packet: request,
      port,
      settings,
      node,
      leases: leaseStore,
      poolCursor: this.#poolCursor,
      ...(this.#options.reservedBy ? { reservedBy: this.#options.reservedBy } : {}),
    });
    if (node === undefined && decision.messageType !== undefined) this.#unknownClient(request, decision);
    const base = { mac, xid: request.xid, peerPort: rinfo.port };
    const requestType = decision.messageType === undefined ? undefined : EVENT_BY_REQUEST.get(decision.messageType);
    if (requestType) this.#emit({ ...base, type: requestType, ...requestedIp(request) }, decision.quiet ? 'debug' : 'info', peer);
    if (decision.suspicious) {
      this.#suspicious.note({ mac, xid: `0x${request.xid.toString(16).padStart(8, '0')}`, ...requestedIp(request), reason: decision.reason, peer });
    }

    // The table changes in memory at once, so the next packet already sees this one's lease.
    const persisted = decision.lease !== undefined && leaseStore.apply(decision.lease);
    if (!decision.reply) {
      this.#emit({ ...base, type: 'drop', reason: decision.reason }, decision.quiet ? 'debug' : 'info', peer);
      return;
    }
    if (persisted) {
      // RFC 2131 §3.1 step 4: "The server selected in the DHCPREQUEST message commits the
      // binding for the client to persistent storage and responds with a DHCPACK"; §1.6 asks
      // to "retain DHCP client configuration across server reboots". So an ACK leaves only
      // after the write holding its binding completed (a burst of ACKs shares that write). An
      // OFFER waits for nothing: offers are not persisted, as §3.1 step 2 says "servers need
      // not reserve the offered network address" (§4.3.1: the server "may choose to record the
      // address as offered"); a lost offer costs the client a retry, not a conflict.
      try {
        await leaseStore.commit();
      } catch (err) {
        // Not durable, so not promised: no ACK, the client retransmits its REQUEST, and that
        // change makes the store write again. The lease stays in memory meanwhile.
        this.#emit({ ...base, type: 'drop', reason: `lease not saved: ${err instanceof Error ? err.message : String(err)}` }, 'error', peer);
        return;
      }
      if (this.#sockets.get(port) !== socket) return; // stopped while the lease was being written
    }
    this.#send(port, socket, request, decision.reply, decision.reason, rinfo, peer);
  }

  #send(port: Port, socket: Socket, request: DhcpPacket, reply: DhcpPacket, reason: string, rinfo: RemoteInfo, peer: string): void {
    const { settings } = this.#options;
    const to = replyDestination({
      request,
      reply,
      via: port,
      peer: { address: rinfo.address, port: rinfo.port },
      ports: settings.ports,
      broadcastAddress: this.#options.broadcastTarget ?? '255.255.255.255',
    });
    const bytes = encodeDhcpPacket(reply);
    socket.send(bytes, to.port, to.address, (err) => {
      if (err) this.#log.log('warn', 'dhcp reply not sent', { peer, to: `${to.address}:${to.port}`, error: err.message });
    });
    const replyType = EVENT_BY_REPLY.get(getOption(reply, DhcpOption.messageType) ?? 0) ?? 'drop';
    const file = reply.file || getOption(reply, DhcpOption.bootfileName);
    const ip = reply.yiaddr !== ZERO_IPV4 ? reply.yiaddr : undefined;
    this.#emit({
      mac: macOf(request),
      xid: request.xid,
      peerPort: rinfo.port,
      type: replyType,
      ...(ip ? { ip } : {}),
      ...(file ? { file } : {}),
      reason,
    }, 'info', peer);
  }

  #unknownClient(request: DhcpPacket, decision: DhcpDecision): void {
    try {
      this.#options.onUnknownClient?.(request, decision);
    } catch (err) {
      this.#log.log('error', 'dhcp onUnknownClient hook failed', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  #emit(event: Omit<DhcpEvent, 'at'>, level: LogLevel, peer: string): void {
    const full: DhcpEvent = { ...event, at: this.#now() };
    this.#log.log(level, `dhcp ${event.type}`, {
      type: event.type,
      mac: event.mac,
      xid: `0x${event.xid.toString(16).padStart(8, '0')}`,
      ip: event.ip,
      file: event.file,
      reason: event.reason,
      peer,
    });
    try {
      this.#options.onEvent?.(full);
    } catch (err) {
      this.#log.log('error', 'dhcp onEvent hook failed', { error: err instanceof Error ? err.message : String(err) });
    }
  }
}

function requestedIp(request: DhcpPacket): { ip?: string } {
  const ip = getOption(request, DhcpOption.requestedIpAddress) ?? (request.ciaddr !== ZERO_IPV4 ? request.ciaddr : undefined);
  return ip === undefined ? {} : { ip };
}
