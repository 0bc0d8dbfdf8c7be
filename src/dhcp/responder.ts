import type { DhcpPacket } from '../protocols/dhcp/packet.js';
import { DhcpServer, type DhcpAnswer, type DhcpPort, type DhcpResponder, type DhcpServerOptions } from '../protocols/dhcp/server.js';
import { nullLogger, type Logger } from '../log/logger.js';
import { PoolCursor } from './address-choice.js';
import { macOf } from './classify-client.js';
import { LeaseBusyError, LeaseConflictError, type LeaseTable } from './lease-table.js';
import { decideDhcpReply, type DhcpDecision } from './policy.js';
import type { DhcpNode, DhcpSettings } from './settings.js';

export interface BootResponderOptions {
  settings: DhcpSettings;
  lookupNode: (mac: string) => DhcpNode | undefined;
  leaseStore: LeaseTable;
  /** MAC of the node holding a fixed reservation for `ip`, so the pool never hands it out. */
  reservedBy?: (ip: string) => string | undefined;
  /**
   * Whether `serverId` (DHCP option 54) is another boot server of ours sharing the lease table
   * that is gone (stopped, or silent past its heartbeat): its clients' requests are then ours.
   */
  peerIsGone?: (serverId: string) => boolean;
  /** Where this server's pool scans start (servers sharing a pool start apart); default the pool's start. */
  poolCursor?: PoolCursor;
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

/**
 * What a boot server answers over DHCP: the pure policy decides (decideDhcpReply), the lease
 * table applies the change, and a reply whose lease must be stored first (every ACK; an OFFER
 * too where the table is shared) waits for that. When another server's client took the
 * address meanwhile, the decision is made again on the updated view.
 */
export class BootDhcpResponder implements DhcpResponder {
  readonly #o: BootResponderOptions;
  readonly #log: Logger;
  readonly #poolCursor: PoolCursor;

  constructor(options: BootResponderOptions) {
    this.#o = options;
    this.#log = (options.logger ?? nullLogger).child({ service: 'dhcp' });
    this.#poolCursor = options.poolCursor ?? new PoolCursor();
  }

  answer(request: DhcpPacket, via: DhcpPort): DhcpAnswer | Promise<DhcpAnswer> {
    const node = this.#o.lookupNode(macOf(request));
    const first = this.#decide(request, via, node);
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
    return this.#settle(request, via, node, first);
  }

  flush(): Promise<void> {
    return this.#o.leaseStore.flush();
  }

  #decide(request: DhcpPacket, via: DhcpPort, node: DhcpNode | undefined): Decided {
    const { settings, leaseStore } = this.#o;
    const decision = decideDhcpReply({
      packet: request,
      port: via,
      settings,
      node,
      leases: leaseStore,
      poolCursor: this.#poolCursor,
      ...(this.#o.reservedBy ? { reservedBy: this.#o.reservedBy } : {}),
      ...(this.#o.peerIsGone ? { peerIsGone: this.#o.peerIsGone } : {}),
    });
    const durable = decision.lease === undefined ? undefined : leaseStore.change(decision.lease).durable;
    // Awaited below or by the socket loop; a change nobody answers for must not be an unhandled rejection.
    durable?.catch(() => {});
    const answer: DhcpAnswer = {
      reason: decision.reason,
      ...(decision.quiet ? { quiet: true } : {}),
      ...(decision.suspicious ? { suspicious: true } : {}),
      ...(decision.reply ? { reply: decision.reply } : {}),
    };
    return { decision, answer, durable };
  }

  async #settle(request: DhcpPacket, via: DhcpPort, node: DhcpNode | undefined, first: Decided): Promise<DhcpAnswer> {
    let current = first;
    for (let attempt = 1; ; attempt++) {
      try {
        await current.durable;
        return current.answer;
      } catch (err) {
        if (err instanceof LeaseBusyError) return { reason: `dropped: ${err.message}`, quiet: true };
        if (!(err instanceof LeaseConflictError)) {
          // Not stored, so not promised: the loop drops the reply and logs why.
          return current.answer.reply ? { ...current.answer, durable: current.durable! } : current.answer;
        }
        if (attempt >= MAX_CLAIM_ATTEMPTS) {
          return { reason: `no reply: ${err.message}, and ${attempt} addresses in a row were taken by other servers first` };
        }
      }
      current = this.#decide(request, via, node);
      if (current.durable === undefined) return current.answer;
    }
  }

  #unknownClient(request: DhcpPacket, decision: DhcpDecision): void {
    try {
      this.#o.onUnknownClient?.(request, decision);
    } catch (err) {
      this.#log.log('error', 'dhcp onUnknownClient hook failed', { error: err instanceof Error ? err.message : String(err) });
    }
  }
}

/** The DHCP service of a boot server: the socket loop with the boot policy behind it. */
export function bootDhcpServer(o: BootResponderOptions & Omit<DhcpServerOptions, 'responder' | 'ports' | 'proxy' | 'interfaceName'>): DhcpServer {
  return new DhcpServer({
    responder: new BootDhcpResponder(o),
    ports: o.settings.ports,
    proxy: o.settings.mode === 'proxy',
    ...(o.settings.interfaceName !== undefined ? { interfaceName: o.settings.interfaceName } : {}),
    ...(o.logger ? { logger: o.logger } : {}),
    ...(o.now ? { now: o.now } : {}),
    ...(o.createSocket ? { createSocket: o.createSocket } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
    ...(o.broadcastTarget !== undefined ? { broadcastTarget: o.broadcastTarget } : {}),
  });
}
