import { createRequire } from 'node:module';

/** One metric family as parse-prometheus-text-format returns it. */
export interface ParsedFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }>;
}

/**
 * The npm parser (a port of Prometheus's own Go text parser), for tests and the end-to-end
 * suite. It ships no types and is CommonJS, hence the require.
 */
export function parsePrometheusText(text: string): ParsedFamily[] {
  const require = createRequire(import.meta.url);
  const parse = require('parse-prometheus-text-format') as (text: string) => ParsedFamily[];
  return parse(text);
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const VALUE = '(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[+-]Inf|NaN)';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(?:${LABEL}(?:,${LABEL})*,?)?\\})? ${VALUE}(?: -?\\d+)?$`);
const HELP = new RegExp(`^# HELP (${NAME}) (?:[^\\\\\\n]|\\\\[\\\\n])*$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);

/**
 * Checks text against the 0.0.4 line grammar, stricter than the parser: every line is a
 * HELP, TYPE or sample line; HELP and TYPE come once per family, before its samples; samples
 * of a family are contiguous; histogram samples use only _bucket/_sum/_count with a +Inf
 * bucket; the text ends with a line feed. Returns the problems found (none means valid).
 */
export function checkExposition(text: string): string[] {
  const problems: string[] = [];
  if (text !== '' && !text.endsWith('\n')) problems.push('text does not end with a line feed');
  const types = new Map<string, string>();
  const closed = new Set<string>();
  let current: string | undefined;
  for (const [i, line] of text.replace(/\n$/, '').split('\n').entries()) {
    const where = `line ${i + 1}: ${line}`;
    const help = HELP.exec(line);
    const type = TYPE.exec(line);
    const sample = SAMPLE.exec(line);
    const family = help?.[1] ?? type?.[1];
    if (family) {
      if (closed.has(family) || (type && types.has(family))) problems.push(`${where}: family repeated`);
      if (current !== family && current !== undefined) closed.add(current);
      current = family;
      if (type) types.set(family, type[2]!);
      continue;
    }
    if (!sample) {
      problems.push(`${where}: not a HELP, TYPE or sample line`);
      continue;
    }
    const name = sample[1]!;
    const base = [...types.keys()].find((f) => name === f || (types.get(f) === 'histogram' && /^_(bucket|sum|count)$/.test(name.slice(f.length)) && name.startsWith(f)));
    if (!base) problems.push(`${where}: sample without TYPE`);
    else if (base !== current) problems.push(`${where}: sample outside its family's block`);
    if (base && types.get(base) === 'histogram' && name === base) problems.push(`${where}: histogram sample without _bucket/_sum/_count`);
  }
  for (const [family, type] of types) {
    if (type === 'histogram' && text.includes(`${family}_bucket`) && !text.includes(`${family}_bucket{`) ) problems.push(`${family}: buckets without le`);
    if (type === 'histogram' && text.includes(`${family}_count`) && !new RegExp(`^${family}_bucket\\{.*le="\\+Inf"`, 'm').test(text)) problems.push(`${family}: no +Inf bucket`);
  }
  return problems;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Every sample line with its labels unescaped. The npm parser above merges labelled
 * histograms into one entry and loses their labels (its flattenMetrics keys buckets by `le`
 * only), so histogram series are read here instead. Throws on a line checkExposition rejects.
 */
export function parseSamples(text: string): Sample[] {
  const problems = checkExposition(text);
  if (problems.length) throw new Error(`Cannot parse metrics: ${problems.join('; ')}`);
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([^{ ]+)(?:\{(.*)\})? (\S+)/.exec(line)!;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[k!] = v!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const raw = m[3]!;
    out.push({ name: m[1]!, labels, value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) });
  }
  return out;
}

/** The value of the one sample with exactly these labels. */
export function sampleValue(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}
