import { createSocket as createDgramSocket, type RemoteInfo, type Socket, type SocketOptions } from 'node:dgram';
import { nullLogger, type LogFields, type Logger, type LogLevel } from '../../log/logger.js';
import { throttledLog } from '../../log/throttled-log.js';
import { bindSocketToInterface, interfaceIndex } from './bind-to-interface.js';
import { DhcpOption, printableOption } from './dhcp-options.js';
import { DhcpMessageType } from './message-types.js';
import { getOption } from './option-spec.js';
import { BootOp, decodeDhcpPacket, encodeDhcpPacket, macOf, type DhcpPacket } from './packet.js';
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
  /** The machine's boot was refused (no boot file given), and why. */
  refused?: string;
  /** UDP port the request came from: 68 from a client, 67 from a relay; any other took no privilege to send. */
  peerPort?: number;
  /** The relay agent's address on the client's link (giaddr), when relayed. */
  giaddr?: string;
  /** The server interface it arrived on, when DHCP listens per interface. */
  interface?: string;
  /** The subnet the responder placed the client in ("10.2.0.0/24"). */
  subnet?: string;
  /** What the relay said of the client's port (option 82), and whether the responder trusts it. */
  agent?: RelayAgentSeen;
  /** The inventory node the responder took the client for (its key), when it is one. */
  node?: string;
  /** The client's vendor class (option 60), printable and capped: which program asked. */
  vendorClass?: string;
  /** Milliseconds since the epoch, from the server's clock. */
  at: number;
}

/** The socket it arrived on: the DHCP server port (67) or the PXE proxy port (4011). */
export type DhcpPort = 'server' | 'proxy';

/** Where a request arrived: which port, and on which of the server's interfaces. */
export interface DhcpArrival {
  port: DhcpPort;
  /** The interface whose socket heard it; undefined when one socket listens on every interface. */
  interface?: string;
  /** The sender (a relay's or the client's address and UDP port). */
  peer?: { address: string; port: number };
}

/**
 * Option 82 of a relayed request as text (circuit and remote id), and whether the responder
 * took it as the client's true switch port (a relay it trusts to say so).
 */
export interface RelayAgentSeen {
  circuitId?: string;
  remoteId?: string;
  trusted: boolean;
}

/** What to do with one request, as the policy behind the socket decided it. */
export interface DhcpAnswer {
  /** The reply to send; none: stay silent. */
  reply?: DhcpPacket;
  /** Why, in a few words, for the log line and the events. */
  reason: string;
  /** Traffic meant for someone else (another server, a non-PXE client in proxy mode): logged at debug. */
  quiet?: boolean;
  /** The policy refused this machine's boot, and why (logged as a warning; the events carry it). */
  refused?: string;
  /** Only a confused or spoofing client sends this: summarised in a rate-limited warning. */
  suspicious?: boolean;
  /** The subnet the client was placed in, for the log line and the events. */
  subnet?: string;
  /** The relay's option 82 as read, for the log line and the events. */
  agent?: RelayAgentSeen;
  /** The inventory node the client was taken for (its key), for the events. */
  node?: string;
  /**
   * The reply leaves only once this resolves (the lease it promises is on disk); if it
   * rejects, no reply, and the client retries.
   */
  durable?: Promise<void>;
}

/**
 * The seam between the socket loop and what a boot server answers: the loop knows packets,
 * ports and RFC 2131's reply routing, the responder knows clients, leases and boot files.
 */
export interface DhcpResponder {
  /**
   * Called in arrival order, synchronously: each answer already sees the previous one's lease.
   * A responder whose answer depends on a shared store (an address claimed in a database
   * before it is offered) returns a promise; the loop sends nothing for that packet until it
   * settles, and a rejection is a dropped packet (the client retries).
   */
  answer(request: DhcpPacket, arrival: DhcpArrival): DhcpAnswer | Promise<DhcpAnswer>;
  /** Waits for writes under way (stop). */
  flush?(): Promise<void>;
}

export interface DhcpServerOptions {
  responder: DhcpResponder;
  /** 67, 68 and 4011 by default; tests use high ports. */
  ports: { server: number; client: number; proxy: number };
  /** Also listen on the PXE proxy port (proxyDHCP mode). */
  proxy: boolean;
  /**
   * Listen on these interfaces, one socket each (pinned with SO_BINDTOIFINDEX), so every request
   * is known by the link it came in on; none: one socket on every interface.
   */
  interfaces?: readonly string[];
  logger?: Logger;
  /** Milliseconds since the epoch; stamps events. */
  now?: () => number;
  /** dgram factory; tests inject one that refuses to send off loopback. */
  createSocket?: (options: SocketOptions) => Socket;
  onEvent?: (event: DhcpEvent) => void;
  /** Where "broadcast" replies go: 255.255.255.255 unless a loopback test says otherwise. */
  broadcastTarget?: string;
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

type Port = DhcpPort;

/** At most one warning a minute about suspicious requests (spoofed DECLINEs), however many arrive. */
const SUSPICIOUS_WARNING_INTERVAL_MS = 60_000;

/** One listening socket: a port, on one interface or on all of them. */
interface Listener {
  port: Port;
  interface: string | undefined;
  socket: Socket;
}

/**
 * The DHCP socket loop: port 67 (and 4011 in proxy mode) in, the responder's answer for every
 * packet, replies routed per RFC 2131 §4.1. A bad packet or a failing hook is logged and
 * dropped; nothing a client sends stops the service.
 *
 * Several interfaces get one socket each, all bound to 0.0.0.0:67 with SO_REUSEADDR and each
 * pinned to its interface with SO_BINDTOIFINDEX: the kernel then delivers a datagram only to
 * the socket of the interface it arrived on (a socket bound to another device does not match),
 * so the socket tells the link, and replies leave through that link. The alternative,
 * IP_PKTINFO on one socket, needs recvmsg(2) ancillary data, which Node's dgram does not expose.
 */
export class DhcpServer {
  readonly #options: DhcpServerOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  #listeners: Listener[] = [];
  readonly #logSuspicious: (fields: LogFields) => void;

  constructor(options: DhcpServerOptions) {
    this.#options = options;
    this.#log = (options.logger ?? nullLogger).child({ service: 'dhcp' });
    this.#now = options.now ?? Date.now;
    this.#logSuspicious = throttledLog(this.#log, 'warn', 'dhcp suspicious request dropped', { intervalMs: SUSPICIOUS_WARNING_INTERVAL_MS, now: this.#now });
  }

  /** The ports actually bound (differs from settings when they say 0). */
  get boundPorts(): { server?: number; proxy?: number } {
    const out: { server?: number; proxy?: number } = {};
    for (const l of this.#listeners) out[l.port] ??= l.socket.address().port;
    return out;
  }

  async start(): Promise<void> {
    if (this.#listeners.length > 0) throw new Error('Cannot start DHCP server: already running');
    const { ports, proxy } = this.#options;
    const interfaces = [...new Set(this.#options.interfaces ?? [])];
    // Resolved before any socket opens: an unknown name fails the start, not a later packet.
    const links = interfaces.length === 0 ? [undefined] : interfaces.map((name) => ({ name, index: interfaceIndex(name) }));
    try {
      for (const [port, number] of [['server', ports.server], ...(proxy ? [['proxy', ports.proxy]] : [])] as Array<[Port, number]>) {
        // Port 0 (tests): the first socket's port is every other socket's too.
        let bound = number;
        for (const link of links) bound = await this.#open(port, bound, link);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.#log.log('info', 'dhcp listening', {
      mode: proxy ? 'proxy' : 'full', interfaces: interfaces.length ? interfaces.join(',') : 'all', ...this.boundPorts,
    });
  }

  /** Closes the sockets, then waits for lease writes already under way (declines, releases). */
  async stop(): Promise<void> {
    const sockets = this.#listeners.map((l) => l.socket);
    this.#listeners = [];
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    })));
    await this.#options.responder.flush?.();
  }

  async #open(port: Port, number: number, link: { name: string; index: number } | undefined): Promise<number> {
    const socket = (this.#options.createSocket ?? createDgramSocket)({ type: 'udp4', reuseAddr: true });
    const listener: Listener = { port, interface: link?.name, socket };
    this.#listeners.push(listener);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: number, address: '0.0.0.0' }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.setBroadcast(true);
    if (link !== undefined) bindSocketToInterface(socket, link.index);
    socket.on('error', (err) => this.#log.log('error', 'dhcp socket error', { port, interface: link?.name, error: err.message }));
    socket.on('message', (msg, rinfo) => this.#receive(listener, msg, rinfo));
    return socket.address().port;
  }

  #receive(listener: Listener, msg: Buffer, rinfo: RemoteInfo): void {
    const peer = `${rinfo.address}:${rinfo.port}`;
    // Everything up to the lease change runs synchronously, in arrival order; only a reply
    // that waits for its lease to be on disk continues later.
    this.#handle(listener, msg, rinfo, peer).catch((err: unknown) => {
      this.#log.log('error', 'dhcp handler failed', { peer, error: err instanceof Error ? err.message : String(err) });
    });
  }

  async #handle(listener: Listener, msg: Buffer, rinfo: RemoteInfo, peer: string): Promise<void> {
    const decoded = decodeDhcpPacket(msg);
    if (!decoded.ok) {
      this.#log.log('warn', 'dhcp packet dropped', { peer, interface: listener.interface, error: decoded.error });
      return;
    }
    const request = decoded.packet;
    const mac = macOf(request);
    const arrival: DhcpArrival = {
      port: listener.port,
      peer: { address: rinfo.address, port: rinfo.port },
      ...(listener.interface !== undefined ? { interface: listener.interface } : {}),
    };
    let answer: DhcpAnswer;
    try {
      const given = this.#options.responder.answer(request, arrival);
      answer = given instanceof Promise ? await given : given;
    } catch (err) {
      this.#log.log('error', 'dhcp responder failed', { peer, mac, error: err instanceof Error ? err.message : String(err) });
      return;
    }
    if (!this.#listeners.includes(listener)) return; // stopped meanwhile
    const base: Omit<DhcpEvent, 'at' | 'type'> = {
      mac, xid: request.xid, peerPort: rinfo.port,
      ...(request.giaddr !== ZERO_IPV4 ? { giaddr: request.giaddr } : {}),
      ...(listener.interface !== undefined ? { interface: listener.interface } : {}),
      ...(answer.subnet !== undefined ? { subnet: answer.subnet } : {}),
      ...(answer.agent !== undefined ? { agent: answer.agent } : {}),
      ...(answer.node !== undefined ? { node: answer.node } : {}),
      ...vendorClassOf(request),
    };
    const messageType = request.op === BootOp.Request ? getOption(request, DhcpOption.messageType) : undefined;
    const requestType = messageType === undefined ? undefined : EVENT_BY_REQUEST.get(messageType);
    if (requestType) this.#emit({ ...base, type: requestType, ...requestedIp(request) }, answer.quiet ? 'debug' : 'info', peer);
    if (answer.suspicious) {
      this.#logSuspicious({ mac, xid: `0x${request.xid.toString(16).padStart(8, '0')}`, ...requestedIp(request), reason: answer.reason, peer });
    }
    // A refused boot is the server's judgement on the machine: its reply (or drop) carries why.
    const outcome = answer.refused === undefined ? base : { ...base, refused: answer.refused };
    if (!answer.reply) {
      this.#emit({ ...outcome, type: 'drop', reason: answer.reason }, answer.refused !== undefined ? 'warn' : answer.quiet ? 'debug' : 'info', peer);
      return;
    }
    if (answer.durable) {
      try {
        await answer.durable;
      } catch (err) {
        // Not durable, so not promised: no reply, the client retransmits its request.
        this.#emit({ ...base, type: 'drop', reason: `lease not saved: ${err instanceof Error ? err.message : String(err)}` }, 'error', peer);
        return;
      }
      if (!this.#listeners.includes(listener)) return; // stopped while the lease was being written
    }
    this.#send(listener, request, answer.reply, answer.reason, rinfo, peer, outcome);
  }

  #send(listener: Listener, request: DhcpPacket, reply: DhcpPacket, reason: string, rinfo: RemoteInfo, peer: string, base: Omit<DhcpEvent, 'at' | 'type'>): void {
    const to = replyDestination({
      request,
      reply,
      via: listener.port,
      peer: { address: rinfo.address, port: rinfo.port },
      ports: this.#options.ports,
      broadcastAddress: this.#options.broadcastTarget ?? '255.255.255.255',
    });
    const bytes = encodeDhcpPacket(reply);
    listener.socket.send(bytes, to.port, to.address, (err) => {
      if (err) this.#log.log('warn', 'dhcp reply not sent', { peer, to: `${to.address}:${to.port}`, error: err.message });
    });
    const replyType = EVENT_BY_REPLY.get(getOption(reply, DhcpOption.messageType) ?? 0) ?? 'drop';
    const file = reply.file || getOption(reply, DhcpOption.bootfileName);
    const ip = reply.yiaddr !== ZERO_IPV4 ? reply.yiaddr : undefined;
    this.#emit({
      ...base,
      type: replyType,
      ...(ip ? { ip } : {}),
      ...(file ? { file } : {}),
      reason,
    }, base.refused !== undefined ? 'warn' : 'info', peer);
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
      refused: event.refused,
      subnet: event.subnet,
      giaddr: event.giaddr,
      circuitId: event.agent?.circuitId,
      remoteId: event.agent?.remoteId,
      node: event.node,
      vendorClass: event.vendorClass,
      interface: event.interface,
      peer,
    });
    try {
      this.#options.onEvent?.(full);
    } catch (err) {
      this.#log.log('error', 'dhcp onEvent hook failed', { error: err instanceof Error ? err.message : String(err) });
    }
  }
}

function vendorClassOf(request: DhcpPacket): { vendorClass?: string } {
  const vendorClass = getOption(request, DhcpOption.vendorClassIdentifier);
  return vendorClass ? { vendorClass: printableOption(vendorClass, 64) } : {};
}

function requestedIp(request: DhcpPacket): { ip?: string } {
  const ip = getOption(request, DhcpOption.requestedIpAddress) ?? (request.ciaddr !== ZERO_IPV4 ? request.ciaddr : undefined);
  return ip === undefined ? {} : { ip };
}
