/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
 * Enough for one process's own metrics; no summaries, no timestamps, no exemplars.
 */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

interface Exposable {
  readonly name: string;
  header(): string;
  samples(constLabels?: Labels): string;
}

abstract class Metric<V> implements Exposable {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected readonly series = new Map<string, { labels: Labels; value: V }>();

  constructor(opts: MetricOptions) {
    if (!METRIC_NAME.test(opts.name)) throw new Error(`Cannot register metric ${JSON.stringify(opts.name)}: not a valid metric name`);
    for (const l of opts.labelNames ?? []) {
      if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new Error(`Cannot register metric ${opts.name}: invalid label name ${JSON.stringify(l)}`);
    }
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames ?? [];
  }

  protected entry(labels: Labels, initial: () => V): { labels: Labels; value: V } {
    const names = Object.keys(labels);
    if (names.length !== this.labelNames.length || !this.labelNames.every((n) => typeof labels[n] === 'string')) {
      throw new Error(`Cannot update ${this.name}: labels must be exactly {${this.labelNames.join(', ')}}, got {${names.join(', ')}}`);
    }
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    let e = this.series.get(key);
    if (!e) this.series.set(key, (e = { labels: { ...labels }, value: initial() }));
    return e;
  }

  header(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
  }

  abstract samples(constLabels?: Labels): string;
}

export class Counter extends Metric<number> {
  readonly type = 'counter' as const;

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`Cannot decrease counter ${this.name} (by ${by})`);
    this.entry(labels, () => 0).value += by;
  }

  get(labels: Labels = {}): number {
    return this.entry(labels, () => 0).value;
  }

  samples(constLabels: Labels = {}): string {
    return [...this.series.values()].map((s) => sample(this.name, { ...constLabels, ...s.labels }, s.value)).join('');
  }
}

export class Gauge extends Metric<number> {
  readonly type = 'gauge' as const;

  set(labels: Labels, value: number): void {
    this.entry(labels, () => 0).value = value;
  }

  inc(labels: Labels = {}, by = 1): void {
    this.entry(labels, () => 0).value += by;
  }

  get(labels: Labels = {}): number {
    return this.entry(labels, () => 0).value;
  }

  samples(constLabels: Labels = {}): string {
    return [...this.series.values()].map((s) => sample(this.name, { ...constLabels, ...s.labels }, s.value)).join('');
  }
}

interface HistogramValue {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramValue> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];

  constructor(opts: MetricOptions & { buckets: readonly number[] }) {
    super(opts);
    if (this.labelNames.includes('le')) throw new Error(`Cannot register histogram ${opts.name}: "le" is reserved`);
    const sorted = [...new Set(opts.buckets)].filter((b) => Number.isFinite(b)).sort((a, b) => a - b);
    if (!sorted.length) throw new Error(`Cannot register histogram ${opts.name}: no finite buckets`);
    this.buckets = sorted;
  }

  observe(labels: Labels, value: number): void {
    const v = this.entry(labels, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 })).value;
    for (const [i, upper] of this.buckets.entries()) if (value <= upper) v.counts[i]!++;
    v.sum += value;
    v.count++;
  }

  samples(constLabels: Labels = {}): string {
    let out = '';
    for (const { labels: own, value } of this.series.values()) {
      const labels = { ...constLabels, ...own };
      // Buckets are cumulative: each count already includes every smaller bucket.
      for (const [i, upper] of this.buckets.entries()) out += sample(`${this.name}_bucket`, { ...labels, le: formatNumber(upper) }, value.counts[i]!);
      out += sample(`${this.name}_bucket`, { ...labels, le: '+Inf' }, value.count);
      out += sample(`${this.name}_sum`, labels, value.sum);
      out += sample(`${this.name}_count`, labels, value.count);
    }
    return out;
  }
}

export class Registry {
  readonly #metrics = new Map<string, Exposable>();

  counter(opts: MetricOptions): Counter {
    return this.#add(new Counter(opts));
  }

  gauge(opts: MetricOptions): Gauge {
    return this.#add(new Gauge(opts));
  }

  histogram(opts: MetricOptions & { buckets: readonly number[] }): Histogram {
    return this.#add(new Histogram(opts));
  }

  /**
   * The whole registry in text format 0.0.4; serve it with PROMETHEUS_CONTENT_TYPE.
   * `constLabels` go first on every sample (e.g. which of several boot servers this is).
   */
  expose(constLabels: Labels = {}): string {
    for (const l of Object.keys(constLabels)) {
      if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new Error(`Cannot expose metrics: invalid label name ${JSON.stringify(l)}`);
    }
    return [...this.#metrics.values()].map((m) => m.header() + m.samples(constLabels)).join('');
  }

  #add<M extends Exposable>(m: M): M {
    if (this.#metrics.has(m.name)) throw new Error(`Cannot register metric ${m.name}: already registered`);
    this.#metrics.set(m.name, m);
    return m;
  }
}

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return `${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${formatNumber(value)}\n`;
}

/** Label values escape backslash, double quote and line feed (format 0.0.4). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes only backslash and line feed. */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}
