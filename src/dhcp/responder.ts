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
import type { LeaseStore } from './lease-store.js';
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
  leaseStore: LeaseStore;
  /** The key (MAC, or "host:NAME") of the node holding a fixed reservation for `ip`, so the pool never hands it out. */
  reservedBy?: (ip: string) => string | undefined;
  /** Every decided request from a MAC that lookupNode does not know, whatever the answer. */
  onUnknownClient?: (request: DhcpPacket, decision: DhcpDecision) => void;
  logger?: Logger;
}

/**
 * What a boot server answers over DHCP: the request is placed in a subnet (selectSubnet: giaddr,
 * ciaddr, the arriving interface; none, no answer), the pure policy decides with that subnet's
 * settings (decideDhcpReply), the lease table changes in memory at once, so the next packet
 * already sees it, and an ACK waits for the write that holds its binding. One lease table and
 * one pool cursor per subnet serve every subnet: an address belongs to one subnet only.
 */
export class BootDhcpResponder implements DhcpResponder {
  readonly #o: BootResponderOptions;
  readonly #log: Logger;
  readonly #poolCursors = new Map<DhcpSettings, PoolCursor>();

  constructor(options: BootResponderOptions) {
    this.#o = options;
    this.#log = (options.logger ?? nullLogger).child({ service: 'dhcp' });
  }

  answer(request: DhcpPacket, arrival: DhcpArrival): DhcpAnswer {
    const { settings, leaseStore } = this.#o;
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
    const decision = decideDhcpReply({
      packet: request,
      port: arrival.port,
      settings: subnet,
      node,
      unknownLoader: node === undefined ? this.#o.defaultLoader?.() : undefined,
      leases: leaseStore,
      poolCursor: this.#cursor(subnet),
      ...(this.#o.reservedBy ? { reservedBy: this.#o.reservedBy } : {}),
    });
    if (node === undefined && decision.messageType !== undefined) this.#unknownClient(request, decision);
    const persisted = decision.lease !== undefined && leaseStore.apply(decision.lease);
    const answer: DhcpAnswer = {
      reason: decision.reason,
      ...(subnet.name !== undefined ? { subnet: subnet.name } : {}),
      ...(agent !== undefined ? { agent } : {}),
      ...(found?.key !== undefined ? { node: found.key } : {}),
      ...(decision.quiet ? { quiet: true } : {}),
      ...(decision.suspicious ? { suspicious: true } : {}),
    };
    if (!decision.reply) return answer;
    // RFC 2131 §3.1 step 4: "The server selected in the DHCPREQUEST message commits the
    // binding for the client to persistent storage and responds with a DHCPACK"; §1.6 asks
    // to "retain DHCP client configuration across server reboots". So an ACK leaves only
    // after the write holding its binding completed (a burst of ACKs shares that write). An
    // OFFER waits for nothing: offers are not persisted, as §3.1 step 2 says "servers need
    // not reserve the offered network address" (§4.3.1: the server "may choose to record the
    // address as offered"); a lost offer costs the client a retry, not a conflict. A failed
    // write withholds the ACK; the client's retransmitted REQUEST makes the store write again.
    return { ...answer, reply: decision.reply, ...(persisted ? { durable: leaseStore.commit() } : {}) };
  }

  #cursor(subnet: DhcpSettings): PoolCursor {
    let cursor = this.#poolCursors.get(subnet);
    if (cursor === undefined) this.#poolCursors.set(subnet, cursor = new PoolCursor());
    return cursor;
  }

  flush(): Promise<void> {
    return this.#o.leaseStore.flush();
  }

  #unknownClient(request: DhcpPacket, decision: DhcpDecision): void {
    try {
      this.#o.onUnknownClient?.(request, decision);
    } catch (err) {
      this.#log.log('error', 'dhcp onUnknownClient hook failed', { error: err instanceof Error ? err.message : String(err) });
    }
  }
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
