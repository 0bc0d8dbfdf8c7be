import type { DhcpPacket } from '../protocols/dhcp/packet.js';
import { DhcpServer, type DhcpAnswer, type DhcpArrival, type DhcpResponder, type DhcpServerOptions, type RelayAgentSeen } from '../protocols/dhcp/server.js';
import { ZERO_IPV4 } from '../protocols/dhcp/ipv4-bytes.js';
import { getOption } from '../protocols/dhcp/option-spec.js';
import { DhcpOption } from '../protocols/dhcp/dhcp-options.js';
import { switchPortOf } from '../protocols/dhcp/relay-agent-info.js';
import { agentIdText, type SwitchPort } from '../net/switch-port.js';
import { nullLogger, type Logger } from '../log/logger.js';
import { PoolCursor } from './address-choice.js';
import { macOf } from './classify-client.js';
import { LeaseBusyError, LeaseConflictError, type LeaseTable } from './lease-table.js';
import { decideDhcpReply, type DhcpDecision } from './policy.js';
import type { DhcpNode, DhcpServiceSettings, DhcpSettings, LoaderChoice } from './settings.js';
import { selectSubnet } from './subnet-selection.js';
import { sameSubnet } from '../net/ipv4.js';

export interface BootResponderOptions {
  settings: DhcpServiceSettings;
  /**
   * The inventory node a machine is: by MAC, or by `port`, the switch port a trusted relay
   * reports in this request; `recalled`: the request is in a subnet behind relays (a renewal
   * straight from such a node carries no option 82), so the port last recorded for the
   * machine may stand in. Never from a request on one of the server's own links.
   */
  lookupNode: (mac: string, port?: SwitchPort, recalled?: boolean) => DhcpNode | undefined;
  /** The default profile's loader, which machines outside the inventory boot with. */
  defaultLoader?: () => LoaderChoice | undefined;
  leaseStore: LeaseTable;
  /** The key (MAC, or "host:NAME") of the node holding a fixed reservation for `ip`, so the pool never hands it out. */
  reservedBy?: (ip: string) => string | undefined;
  /**
   * Whether `serverId` (DHCP option 54) is another boot server of ours sharing the lease table
   * that is gone (stopped, or silent past its heartbeat): its clients' requests are then ours.
   */
  peerIsGone?: (serverId: string) => boolean;
  /**
   * The cursor of a subnet's pool scans, asked once per subnet: where this server's scans start
   * (servers sharing a pool start apart); default the pool's start.
   */
  poolCursor?: (subnet: DhcpSettings) => PoolCursor;
  /** Every decided request from a MAC that lookupNode does not know, whatever the answer. */
  onUnknownClient?: (request: DhcpPacket, decision: DhcpDecision) => void;
  logger?: Logger;
}

/** Decisions made for one packet at most, when other servers keep claiming the chosen address first. */
export const MAX_CLAIM_ATTEMPTS = 4;

interface Decided {
  decision: DhcpDecision;
  answer: DhcpAnswer;
  durable: Promise<void> | undefined;
}

/** What one request was found to be before any decision: its subnet, relay, and node. */
interface Placed {
  request: DhcpPacket;
  arrival: DhcpArrival;
  subnet: DhcpSettings;
  agent: RelayAgentSeen | undefined;
  /** The node as looked up (its key names it in the events). */
  found: DhcpNode | undefined;
  /** The node as the policy sees it: without a reservation that lies in another subnet. */
  node: DhcpNode | undefined;
}

/**
 * What a boot server answers over DHCP: the request is placed in a subnet (selectSubnet: giaddr,
 * ciaddr, the arriving interface; none, no answer), the pure policy decides with that subnet's
 * settings (decideDhcpReply), the lease table applies the change, and a reply whose lease must
 * be stored first (every ACK; an OFFER too where the table is shared) waits for that. When
 * another server's client took the address meanwhile, the decision is made again on the
 * updated view, in the same subnet. One lease table and one pool cursor per subnet serve every
 * subnet: an address belongs to one subnet only.
 */
export class BootDhcpResponder implements DhcpResponder {
  readonly #o: BootResponderOptions;
  readonly #log: Logger;
  readonly #poolCursors = new Map<DhcpSettings, PoolCursor>();

  constructor(options: BootResponderOptions) {
    this.#o = options;
    this.#log = (options.logger ?? nullLogger).child({ service: 'dhcp' });
  }

  answer(request: DhcpPacket, arrival: DhcpArrival): DhcpAnswer | Promise<DhcpAnswer> {
    const { settings } = this.#o;
    const choice = selectSubnet(request, arrival, settings.subnets);
    if (!choice.ok) return { reason: choice.reason };
    const subnet = choice.subnet;
    const agent = relayAgentSeen(request, arrival, subnet, settings.ports.server);
    const port = agent?.trusted && agent.circuitId !== undefined
      ? { circuitId: agent.circuitId, ...(agent.remoteId !== undefined ? { remoteId: agent.remoteId } : {}) }
      : undefined;
    const found = this.#o.lookupNode(macOf(request), port, subnet.attached === false);
    // A reservation holds on its own subnet only: elsewhere the machine is served like any
    // other there (a pool address), and its reserved address stays free for it.
    const node = found?.address !== undefined && !sameSubnet(found.address, subnet.network, subnet.subnetMask)
      ? (({ address: _elsewhere, ...rest }) => rest)(found)
      : found;
    const placed: Placed = { request, arrival, subnet, agent, found, node };
    const first = this.#decide(placed);
    if (node === undefined && first.decision.messageType !== undefined) this.#unknownClient(request, first.decision);
    if (first.durable === undefined) return first.answer;
    // RFC 2131 §3.1 step 4: "The server selected in the DHCPREQUEST message commits the
    // binding for the client to persistent storage and responds with a DHCPACK"; §1.6 asks
    // to "retain DHCP client configuration across server reboots". So an ACK leaves only
    // after the write holding its binding completed (a burst of ACKs shares that write). A
    // file-backed OFFER waits for nothing: §3.1 step 2 says "servers need not reserve the
    // offered network address" (§4.3.1: the server "may choose to record the address as
    // offered"); a lost offer costs the client a retry, not a conflict. Servers sharing a
    // table claim the address before offering it, so two of them never offer one address to
    // two clients. A failed write withholds the reply; the client's retransmission retries.
    return this.#settle(placed, first);
  }

  flush(): Promise<void> {
    return this.#o.leaseStore.flush();
  }

  #decide(placed: Placed): Decided {
    const { request, arrival, subnet, node } = placed;
    const { leaseStore } = this.#o;
    const decision = decideDhcpReply({
      packet: request,
      port: arrival.port,
      settings: subnet,
      node,
      unknownLoader: node === undefined ? this.#o.defaultLoader?.() : undefined,
      leases: leaseStore,
      poolCursor: this.#cursor(subnet),
      ...(this.#o.reservedBy ? { reservedBy: this.#o.reservedBy } : {}),
      ...(this.#o.peerIsGone ? { peerIsGone: this.#o.peerIsGone } : {}),
    });
    const durable = decision.lease === undefined ? undefined : leaseStore.change(decision.lease).durable;
    // Awaited below or by the socket loop; a change nobody answers for must not be an unhandled rejection.
    durable?.catch(() => {});
    const answer: DhcpAnswer = {
      reason: decision.reason,
      ...placedFields(placed),
      ...(decision.quiet ? { quiet: true } : {}),
      ...(decision.suspicious ? { suspicious: true } : {}),
      ...(decision.refused !== undefined ? { refused: decision.refused } : {}),
      ...(decision.reply ? { reply: decision.reply } : {}),
    };
    return { decision, answer, durable };
  }

  async #settle(placed: Placed, first: Decided): Promise<DhcpAnswer> {
    let current = first;
    for (let attempt = 1; ; attempt++) {
      try {
        await current.durable;
        return current.answer;
      } catch (err) {
        if (err instanceof LeaseBusyError) return { ...placedFields(placed), reason: `dropped: ${err.message}`, quiet: true };
        if (!(err instanceof LeaseConflictError)) {
          // Not stored, so not promised: the loop drops the reply and logs why.
          return current.answer.reply ? { ...current.answer, durable: current.durable! } : current.answer;
        }
        if (attempt >= MAX_CLAIM_ATTEMPTS) {
          return { ...placedFields(placed), reason: `no reply: ${err.message}, and ${attempt} addresses in a row were taken by other servers first` };
        }
      }
      current = this.#decide(placed);
      if (current.durable === undefined) return current.answer;
    }
  }

  #cursor(subnet: DhcpSettings): PoolCursor {
    let cursor = this.#poolCursors.get(subnet);
    if (cursor === undefined) this.#poolCursors.set(subnet, cursor = this.#o.poolCursor?.(subnet) ?? new PoolCursor());
    return cursor;
  }

  #unknownClient(request: DhcpPacket, decision: DhcpDecision): void {
    try {
      this.#o.onUnknownClient?.(request, decision);
    } catch (err) {
      this.#log.log('error', 'dhcp onUnknownClient hook failed', { error: err instanceof Error ? err.message : String(err) });
    }
  }
}

/** What every answer to a placed request says of it, for the log line and the events. */
function placedFields({ subnet, agent, found }: Placed): Pick<DhcpAnswer, 'subnet' | 'agent' | 'node'> {
  return {
    ...(subnet.name !== undefined ? { subnet: subnet.name } : {}),
    ...(agent !== undefined ? { agent } : {}),
    ...(found?.key !== undefined ? { node: found.key } : {}),
  };
}

/**
 * Option 82 of a relayed request, and whether it names the client's port truly enough to
 * identify a node by: only from a relay (giaddr set, sent from the DHCP server port, which
 * takes root on the sender) of a subnet the server reaches only through relays. The answers
 * to such a request go to that relay (giaddr), so only a machine on that port receives them;
 * on a link of the server's own, anyone could pose as a relay and read the answer.
 */
function relayAgentSeen(request: DhcpPacket, arrival: DhcpArrival, subnet: DhcpSettings, serverPort: number): RelayAgentSeen | undefined {
  if (request.giaddr === ZERO_IPV4) return undefined;
  const info = getOption(request, DhcpOption.relayAgentInformation);
  if (info === undefined) return undefined;
  const port = switchPortOf(info);
  const trusted = port !== undefined && subnet.attached === false && (arrival.peer === undefined || arrival.peer.port === serverPort);
  return {
    ...(port !== undefined ? { circuitId: port.circuitId } : {}),
    ...(port?.remoteId !== undefined ? { remoteId: port.remoteId } : info.remoteId !== undefined ? { remoteId: agentIdText(info.remoteId) } : {}),
    trusted,
  };
}

/** The DHCP service of a boot server: the socket loop with the boot policy behind it. */
export function bootDhcpServer(o: BootResponderOptions & Omit<DhcpServerOptions, 'responder' | 'ports' | 'proxy' | 'interfaces'>): DhcpServer {
  return new DhcpServer({
    responder: new BootDhcpResponder(o),
    ports: o.settings.ports,
    proxy: o.settings.subnets.some((s) => s.mode === 'proxy'),
    interfaces: o.settings.interfaces,
    ...(o.logger ? { logger: o.logger } : {}),
    ...(o.now ? { now: o.now } : {}),
    ...(o.createSocket ? { createSocket: o.createSocket } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
    ...(o.broadcastTarget !== undefined ? { broadcastTarget: o.broadcastTarget } : {}),
  });
}
