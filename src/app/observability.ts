import { join } from 'node:path';
import type { HttpHandler } from '../http/server.js';
import type { ServiceEvents } from '../events/service-events.js';
import { apiHandler } from '../api/routes.js';
import type { ApiDeps } from '../api/deps.js';
import { cidrAllowList } from '../api/access.js';
import { BootMetrics } from '../metrics/boot-metrics.js';
import { metricsEndpoint } from '../metrics/metrics-endpoint.js';
import type { BootEvent, NewBootEvent } from '../events/boot-event.js';
import { dhcpRefusal, fromDhcp, fromHttp, fromNbd, fromReport, fromTftp, isBootTraffic } from '../events/convert.js';
import { EventStore } from '../events/event-store.js';
import { NodeStates } from '../events/node-state.js';
import { PeerDirectory, type MacLookup } from '../events/peer-directory.js';
import type { SegmentLogOptions } from '../events/segment-log.js';
import { LoaderWatch } from '../events/loader-watch.js';
import { FailureReportStore, failureReportsPath, type FailureReportKeeper } from '../events/failure-reports.js';
import type { Logger } from '../log/logger.js';

export interface ObservabilityOptions {
  /** Events go to STATE/events. */
  stateDir: string;
  /** Who holds an IP when no ACK or report said so yet: leases, config reservations. */
  lookupMacByIp?: MacLookup;
  now?: () => number;
  log?: Omit<SegmentLogOptions, 'dir'>;
  /** A failing recorder must not take a service down; this hears about it. */
  onError?: (e: unknown) => void;
  /** Inventory nodes: their states are always kept; other machines' are capped (see NodeStates). */
  isListed?: (mac: string) => boolean;
  maxUnlistedStates?: number;
  /** How long a downloaded EFI loader may stay silent before its refusal is inferred (LoaderWatch). */
  loaderSilenceMs?: number;
  /** Hears each inferred loader refusal once it is recorded (the server logs it). */
  onLoaderRefused?: (e: BootEvent) => void;
  /** Where a failure report file that cannot be read or written is logged. */
  logger?: Logger;
  /**
   * Servers sharing their events (state: postgres): this server's address, put on each event
   * it records as `fields.server`, and where each is handed to be shared with the others.
   */
  share?: { server: string; publish(e: NewBootEvent): void };
  /** Where failure reports are kept when not in STATE/failure-reports.json (the state database). */
  failureReports?: FailureReportKeeper;
}

export interface Observability {
  record(event: NewBootEvent): BootEvent | undefined;
  /**
   * Another server's event (it carries `fields.server`): stored and applied to the node states
   * like one of ours, so both servers show one timeline, but neither shared again nor counted
   * in this server's metrics.
   */
  ingest(event: NewBootEvent): BootEvent | undefined;
  /** Hooks for startServices' `events` option. */
  readonly serviceEvents: Required<ServiceEvents>;
  readonly store: EventStore;
  readonly states: NodeStates;
  readonly metrics: BootMetrics;
  /** Each machine's last failure report (STATE/failure-reports.json, or the state database's), as the API serves them. */
  readonly failureReports: FailureReportKeeper;
  /** The API and /metrics, for HttpServer's `handlers`. */
  handlers(deps: Omit<ApiDeps, 'events' | 'states' | 'failureReports'>): HttpHandler[];
  /** Writes what is not saved yet, then closes the event store. */
  close(): Promise<void>;
}

/**
 * Events, node states and metrics in one place. Opening replays the stored events into the
 * node states (so the dashboard survives a restart); metrics count from this start on.
 */
export function createObservability(opts: ObservabilityOptions): Observability {
  const now = opts.now ?? Date.now;
  const onError = opts.onError ?? (() => {});
  const store = EventStore.open({ dir: join(opts.stateDir, 'events'), ...opts.log, onListenerError: onError });
  const states = new NodeStates({
    ...(opts.isListed ? { isListed: opts.isListed } : {}),
    ...(opts.maxUnlistedStates === undefined ? {} : { maxUnlisted: opts.maxUnlistedStates }),
  });
  const peers = new PeerDirectory(opts.lookupMacByIp);
  for (const e of store.all()) {
    peers.learn(e);
    states.apply(e);
  }
  const metrics = new BootMetrics(opts.share ? { server: opts.share.server } : {});
  const failureReports = opts.failureReports ?? new FailureReportStore({ path: failureReportsPath(opts.stateDir), now, ...(opts.logger ? { logger: opts.logger } : {}) });
  const ctx = { now, lookupMac: peers.lookup };

  const share = opts.share;
  const record = (seen: NewBootEvent): BootEvent | undefined => {
    try {
      const input = share === undefined ? seen : { ...seen, fields: { ...seen.fields, server: share.server } };
      peers.learn(input);
      const event = store.append(input);
      metrics.observe(event, states.apply(event));
      loaders.observe(event);
      share?.publish(input);
      return event;
    } catch (e) {
      onError(e);
      return undefined;
    }
  };
  const ingest = (input: NewBootEvent): BootEvent | undefined => {
    try {
      peers.learn(input);
      const event = store.append(input);
      states.apply(event);
      // A file fetched from the other server after a loader from this one: the loader ran.
      loaders.observe(event);
      return event;
    } catch (e) {
      onError(e);
      return undefined;
    }
  };
  const loaders = new LoaderWatch({
    now,
    ...(opts.loaderSilenceMs === undefined ? {} : { silenceMs: opts.loaderSilenceMs }),
    record: (e) => {
      const event = record(e);
      if (event) opts.onLoaderRefused?.(event);
    },
  });
  const guard = <T>(convert: (e: T) => NewBootEvent) => (e: T) => {
    try {
      record(convert(e));
    } catch (err) {
      onError(err);
    }
  };
  return {
    record,
    ingest,
    serviceEvents: {
      dhcp: (e) => {
        guard(fromDhcp)(e);
        // A boot refused by policy ends there: the offer (once per firmware attempt, where the
        // DISCOVER began the boot) fails it, with the reason, on the node's timeline.
        if (e.type === 'offer' && e.refused !== undefined) guard(dhcpRefusal)(e);
      },
      tftp: guard((e) => fromTftp(e, ctx)),
      // API calls, scrapes and node reports are not boot traffic: recording them would fill the
      // log with the dashboard's own polling (a report is recorded as its stage event).
      http: (e) => (isBootTraffic(e.path) ? guard((x: typeof e) => fromHttp(x, ctx))(e) : undefined),
      nbd: guard((e) => fromNbd(e, ctx)),
      node: guard((r) => fromReport(r, ctx)),
    },
    store,
    states,
    metrics,
    failureReports,
    handlers: (deps) => [apiHandler({ ...deps, events: store, states, failureReports }), metricsEndpoint(() => metrics.expose(), cidrAllowList(deps.readCidrs))],
    close: async () => {
      await failureReports.flush();
      loaders.close();
      store.close();
    },
  };
}
