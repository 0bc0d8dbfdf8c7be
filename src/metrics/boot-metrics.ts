import type { BootEvent } from '../events/boot-event.js';
import { STAGE_ORDER, type BootTransition } from '../events/node-state.js';
import { Registry } from './registry.js';
import type { ReportRefusal } from '../events/service-events.js';
import type { BlockCacheStats as FileCacheStats } from '../files/block-cache.js';

/** Stage names are chosen by whatever POSTs a report; only these become label values. */
const STAGE_LABELS: ReadonlySet<string> = new Set([...STAGE_ORDER, 'fetched', 'verified', 'booted']);
const DHCP_TYPES = ['discover', 'offer', 'request', 'ack', 'nak', 'release', 'decline', 'inform', 'drop'] as const;
const PROTOCOLS = ['tftp', 'http', 'nbd'] as const;
const REPORT_REFUSALS: readonly ReportRefusal[] = ['unknown-mac', 'from-browser', 'not-a-form', 'bad-proof'];
/** Seconds: from a quick cmdline parse to a slow image fetch with rd.retry. */
const STAGE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * The metric set fed from boot events. Counters restart at zero with the process (Prometheus
 * handles resets); replaying stored events at start would count old boots twice in rate().
 */
export class BootMetrics {
  readonly registry = new Registry();
  /** On every sample: `server` when several boot servers share the state (each exposes its own counts). */
  readonly #constLabels: Record<string, string>;
  readonly #started = this.registry.counter({ name: 'diskless_boots_started_total', help: 'Boots begun: firmware DHCP, or a first stage report without our DHCP.' });
  readonly #finished = this.registry.counter({ name: 'diskless_boots_finished_total', help: 'Boots that reached the booted report of the real system.' });
  readonly #failed = this.registry.counter({ name: 'diskless_boots_failed_total', help: 'Boots that a node reported failed, by the stage that failed.', labelNames: ['stage'] });
  readonly #stageSeconds = this.registry.histogram({ name: 'diskless_stage_duration_seconds', help: 'Duration of initramfs stages as the node measured them.', labelNames: ['stage'], buckets: STAGE_BUCKETS });
  readonly #bytes = this.registry.counter({ name: 'diskless_bytes_served_total', help: 'Bytes sent to nodes, by protocol (counted when a transfer ends).', labelNames: ['protocol'] });
  readonly #active = this.registry.gauge({ name: 'diskless_active_transfers', help: 'Transfers in progress, by protocol (HTTP reports only finished requests, so it stays 0).', labelNames: ['protocol'] });
  readonly #dhcp = this.registry.counter({ name: 'diskless_dhcp_packets_total', help: 'DHCP messages received and sent, by message type; drop counts requests not answered.', labelNames: ['type'] });
  readonly #refusedReports = this.registry.counter({ name: 'diskless_reports_refused_total', help: 'Node reports refused: unknown-mac (a MAC the server never saw), from-browser (a web page posting), not-a-form.', labelNames: ['reason'] });
  readonly #cacheBytes = this.registry.gauge({ name: 'diskless_file_cache_bytes', help: 'Memory held by blocks of served files (HTTP and NBD), and the limit (server.file_cache_mb).', labelNames: ['kind'] });
  readonly #cacheBlocks = this.registry.gauge({ name: 'diskless_file_cache_blocks', help: 'Blocks of served files held in memory.' });
  readonly #cacheReads = this.registry.counter({ name: 'diskless_file_cache_reads_total', help: 'Reads through the file cache: hit (every block in memory) or miss (read from the file).', labelNames: ['result'] });
  readonly #cacheEvictions = this.registry.counter({ name: 'diskless_file_cache_evictions_total', help: 'Blocks dropped from the file cache to make room.' });
  #cacheStats: (() => FileCacheStats) | undefined;
  /** The stats already counted into the counters above. */
  #cacheCounted = { hits: 0, misses: 0, evictions: 0 };
  /** Open transfers by "protocol peer": a refused connection's error must not end someone else's. */
  readonly #open = new Set<string>();

  constructor(o: { server?: string } = {}) {
    this.#constLabels = o.server === undefined ? {} : { server: o.server };
    // Every series exists from the start, so dashboards and alerts see 0 rather than nothing.
    this.#started.inc({}, 0);
    this.#finished.inc({}, 0);
    for (const protocol of PROTOCOLS) {
      this.#bytes.inc({ protocol }, 0);
      this.#active.set({ protocol }, 0);
    }
    for (const type of DHCP_TYPES) this.#dhcp.inc({ type }, 0);
    for (const reason of REPORT_REFUSALS) this.#refusedReports.inc({ reason }, 0);
  }

  /** Reports the file cache's memory and hit rate, read at each scrape. */
  watchFileCache(stats: () => FileCacheStats): void {
    this.#cacheStats = stats;
    this.#updateFileCache();
  }

  #updateFileCache(): void {
    const s = this.#cacheStats?.();
    if (s === undefined) return;
    this.#cacheBytes.set({ kind: 'used' }, s.bytes);
    this.#cacheBytes.set({ kind: 'limit' }, s.maxBytes);
    this.#cacheBlocks.set({}, s.blocks);
    const c = this.#cacheCounted;
    this.#cacheReads.inc({ result: 'hit' }, Math.max(0, s.hits - c.hits));
    this.#cacheReads.inc({ result: 'miss' }, Math.max(0, s.misses - c.misses));
    this.#cacheEvictions.inc({}, Math.max(0, s.evictions - c.evictions));
    this.#cacheCounted = { hits: s.hits, misses: s.misses, evictions: s.evictions };
  }

  /** A report the endpoint refused (it never becomes an event). */
  reportRefused(reason: ReportRefusal): void {
    this.#refusedReports.inc({ reason });
  }

  observe(e: BootEvent, t: BootTransition): void {
    if (t.started) this.#started.inc();
    if (t.booted) this.#finished.inc();
    if (t.failedStage !== undefined) this.#failed.inc({ stage: stageLabel(t.failedStage) });
    switch (e.kind) {
      case 'dhcp':
        if ((DHCP_TYPES as readonly string[]).includes(e.name)) this.#dhcp.inc({ type: e.name });
        break;
      case 'stage':
        if (e.durationMs !== undefined && e.fields.status !== 'failed') this.#stageSeconds.observe({ stage: stageLabel(e.name) }, e.durationMs / 1000);
        break;
      case 'tftp':
        this.#transfer('tftp', e, e.name === 'start', e.name === 'done' || e.name === 'error');
        break;
      case 'nbd':
        this.#transfer('nbd', e, e.name === 'connect', e.name === 'disconnect' || e.name === 'error');
        break;
      case 'http':
        if (e.bytes) this.#bytes.inc({ protocol: 'http' }, e.bytes);
        break;
      default:
        break;
    }
  }

  expose(): string {
    this.#updateFileCache();
    return this.registry.expose(this.#constLabels);
  }

  #transfer(protocol: 'tftp' | 'nbd', e: BootEvent, begins: boolean, ends: boolean): void {
    const key = `${protocol} ${e.fields.peer ?? e.ip ?? '?'}`;
    if (begins && !this.#open.has(key)) {
      this.#open.add(key);
      this.#active.inc({ protocol });
    }
    if (ends) {
      if (this.#open.delete(key)) this.#active.inc({ protocol }, -1);
      if (e.bytes) this.#bytes.inc({ protocol }, e.bytes);
    }
  }
}

function stageLabel(stage: string): string {
  return STAGE_LABELS.has(stage) ? stage : 'other';
}
