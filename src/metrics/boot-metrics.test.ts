import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BootMetrics } from './boot-metrics.js';
import { NodeStates } from '../events/node-state.js';
import { BootScript, VERSION } from '../events/testdata/boot-sequences.js';
import { checkExposition, parsePrometheusText, parseSamples, sampleValue, type ParsedFamily } from './testdata/prometheus-text.js';

function value(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): string | undefined {
  const f = families.find((x) => x.name === name);
  return f?.metrics.find((m) => JSON.stringify(m.labels ?? {}) === JSON.stringify(labels))?.value;
}

test('boots, failures, stage durations, bytes and DHCP packets from a boot and a failed boot', () => {
  const ok = new BootScript('52:54:00:00:00:01', '10.77.0.51')
    .at(0).firmwareToKernel()
    .at(4100).report('network', 'ok', 'duration_ms=1500', 2300)
    .at(4200).nbd('connect', `debian@${VERSION}`).nbd('attach', `debian@${VERSION}`)
    .at(7950).report('root', 'ok', 'duration_ms=3800', 6150)
    .at(15000).report('booted', 'ok', '', 13_100);
  const bad = new BootScript('52:54:00:00:00:02', '10.77.0.52')
    .at(0).firmwareToKernel()
    .at(4100).report('network', 'ok', 'duration_ms=700', 2300)
    .at(7400).report('root', 'failed', 'sha256 mismatch', 5600);
  const metrics = new BootMetrics();
  const states = new NodeStates();
  for (const e of [...ok.events, ...bad.events]) metrics.observe(e, states.apply(e));

  const text = metrics.expose();
  assert.deepEqual(checkExposition(text), []);
  const f = parsePrometheusText(text);
  assert.equal(value(f, 'diskless_boots_started_total'), '2');
  assert.equal(value(f, 'diskless_boots_finished_total'), '1');
  assert.equal(value(f, 'diskless_boots_failed_total', { stage: 'root' }), '1');
  assert.equal(value(f, 'diskless_dhcp_packets_total', { type: 'offer' }), '4');
  assert.equal(value(f, 'diskless_dhcp_packets_total', { type: 'nak' }), '0');
  assert.equal(value(f, 'diskless_bytes_served_total', { protocol: 'tftp' }), '140000');
  assert.equal(value(f, 'diskless_bytes_served_total', { protocol: 'http' }), String(2 * (420 + 8_000_000 + 30_000_000)));
  assert.equal(value(f, 'diskless_active_transfers', { protocol: 'nbd' }), '1');
  assert.equal(value(f, 'diskless_active_transfers', { protocol: 'tftp' }), '0');
  assert.equal(f.find((x) => x.name === 'diskless_stage_duration_seconds')?.type, 'HISTOGRAM');
  const samples = parseSamples(text);
  assert.equal(sampleValue(samples, 'diskless_stage_duration_seconds_count', { stage: 'network' }), 2);
  assert.equal(sampleValue(samples, 'diskless_stage_duration_seconds_sum', { stage: 'network' }), 2.2);
  assert.equal(sampleValue(samples, 'diskless_stage_duration_seconds_bucket', { stage: 'network', le: '1' }), 1);
  assert.equal(sampleValue(samples, 'diskless_stage_duration_seconds_bucket', { stage: 'root', le: '+Inf' }), 1);
});

test('a stage name a node made up is counted as "other", not as a new series', () => {
  const s = new BootScript().at(0).report('network', 'ok', '', 100).report('x_attacker_1', 'failed', 'boom', 200);
  const metrics = new BootMetrics();
  const states = new NodeStates();
  for (const e of s.events) metrics.observe(e, states.apply(e));
  assert.match(metrics.expose(), /^diskless_boots_failed_total\{stage="other"\} 1$/m);
  assert.doesNotMatch(metrics.expose(), /x_attacker/);
});

test('the file cache: memory used and its limit, blocks, hits and misses counted once per scrape', () => {
  const m = new BootMetrics();
  let stats = { bytes: 0, maxBytes: 512 * 1048576, blocks: 0, hits: 0, misses: 0, evictions: 0 };
  m.watchFileCache(() => stats);
  stats = { ...stats, bytes: 262144, blocks: 2, hits: 5, misses: 2, evictions: 1 };
  m.expose();
  stats = { ...stats, hits: 9 };
  const text = m.expose();
  assert.match(text, /^diskless_file_cache_bytes\{kind="used"\} 262144$/m);
  assert.match(text, /^diskless_file_cache_bytes\{kind="limit"\} 536870912$/m);
  assert.match(text, /^diskless_file_cache_blocks 2$/m);
  assert.match(text, /^diskless_file_cache_reads_total\{result="hit"\} 9$/m);
  assert.match(text, /^diskless_file_cache_reads_total\{result="miss"\} 2$/m);
  assert.match(text, /^diskless_file_cache_evictions_total 1$/m);
});
