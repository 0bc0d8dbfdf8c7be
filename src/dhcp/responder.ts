import type { DhcpPacket } from '../protocols/dhcp/packet.js';
import { DhcpServer, type DhcpAnswer, type DhcpPort, type DhcpResponder, type DhcpServerOptions } from '../protocols/dhcp/server.js';
import { nullLogger, type Logger } from '../log/logger.js';
import { PoolCursor } from './address-choice.js';
import { macOf } from './classify-client.js';
import type { LeaseStore } from './lease-store.js';
import { decideDhcpReply, type DhcpDecision } from './policy.js';
import type { DhcpNode, DhcpSettings, LoaderChoice } from './settings.js';

export interface BootResponderOptions {
  settings: DhcpSettings;
  lookupNode: (mac: string) => DhcpNode | undefined;
  /** The default profile's loader, which machines outside the inventory boot with. */
  defaultLoader?: () => LoaderChoice | undefined;
  leaseStore: LeaseStore;
  /** MAC of the node holding a fixed reservation for `ip`, so the pool never hands it out. */
  reservedBy?: (ip: string) => string | undefined;
  /** Every decided request from a MAC that lookupNode does not know, whatever the answer. */
  onUnknownClient?: (request: DhcpPacket, decision: DhcpDecision) => void;
  logger?: Logger;
}

/**
 * What a boot server answers over DHCP: the pure policy decides (decideDhcpReply), the lease
 * table changes in memory at once, so the next packet already sees it, and an ACK waits for
 * the write that holds its binding.
 */
export class BootDhcpResponder implements DhcpResponder {
  readonly #o: BootResponderOptions;
  readonly #log: Logger;
  readonly #poolCursor = new PoolCursor();

  constructor(options: BootResponderOptions) {
    this.#o = options;
    this.#log = (options.logger ?? nullLogger).child({ service: 'dhcp' });
  }

  answer(request: DhcpPacket, via: DhcpPort): DhcpAnswer {
    const { settings, leaseStore } = this.#o;
    const node = this.#o.lookupNode(macOf(request));
    const decision = decideDhcpReply({
      packet: request,
      port: via,
      settings,
      node,
      unknownLoader: node === undefined ? this.#o.defaultLoader?.() : undefined,
      leases: leaseStore,
      poolCursor: this.#poolCursor,
      ...(this.#o.reservedBy ? { reservedBy: this.#o.reservedBy } : {}),
    });
    if (node === undefined && decision.messageType !== undefined) this.#unknownClient(request, decision);
    const persisted = decision.lease !== undefined && leaseStore.apply(decision.lease);
    const answer: DhcpAnswer = {
      reason: decision.reason,
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
