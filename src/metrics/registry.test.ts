import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from './registry.js';
import { checkExposition, parsePrometheusText } from './testdata/prometheus-text.js';

test('golden: counters, gauges and histograms in text format 0.0.4', () => {
  const r = new Registry();
  const c = r.counter({ name: 'x_total', help: 'Things.\nWith a \\ newline.', labelNames: ['path'] });
  c.inc({ path: 'a"b\\c\nd' });
  c.inc({ path: 'plain' }, 2.5);
  r.gauge({ name: 'g', help: 'A gauge.' }).set({}, -3);
  const h = r.histogram({ name: 'h_seconds', help: 'Durations.', labelNames: ['stage'], buckets: [1, 0.5, 5] });
  h.observe({ stage: 'root' }, 0.2);
  h.observe({ stage: 'root' }, 3);
  assert.equal(
    r.expose(),
    [
      '# HELP x_total Things.\\nWith a \\\\ newline.',
      '# TYPE x_total counter',
      'x_total{path="a\\"b\\\\c\\nd"} 1',
      'x_total{path="plain"} 2.5',
      '# HELP g A gauge.',
      '# TYPE g gauge',
      'g -3',
      '# HELP h_seconds Durations.',
      '# TYPE h_seconds histogram',
      'h_seconds_bucket{stage="root",le="0.5"} 1',
      'h_seconds_bucket{stage="root",le="1"} 1',
      'h_seconds_bucket{stage="root",le="5"} 2',
      'h_seconds_bucket{stage="root",le="+Inf"} 2',
      'h_seconds_sum{stage="root"} 3.2',
      'h_seconds_count{stage="root"} 2',
      '',
    ].join('\n'),
  );
  assert.deepEqual(checkExposition(r.expose()), []);
  const parsed = parsePrometheusText(r.expose());
  assert.deepEqual(parsed.map((f) => [f.name, f.type]), [['x_total', 'COUNTER'], ['g', 'GAUGE'], ['h_seconds', 'HISTOGRAM']]);
  assert.deepEqual(parsed[0]?.metrics[0]?.labels, { path: 'a"b\\c\nd' });
  assert.deepEqual(parsed[2]?.metrics[0]?.buckets, { '0.5': '1', '1': '1', '5': '2', '+Inf': '2' });
});

test('the grammar check rejects what the format forbids', () => {
  assert.notDeepEqual(checkExposition('x 1\n'), []); // no TYPE
  assert.notDeepEqual(checkExposition('# TYPE x counter\nx{a="\n"} 1\n'), []); // raw newline in a label
  assert.notDeepEqual(checkExposition('# TYPE x counter\nx 1'), []); // no final line feed
  assert.notDeepEqual(checkExposition('# TYPE x counter\nx one\n'), []);
  assert.notDeepEqual(checkExposition('# TYPE x counter\nx 1\n# TYPE y gauge\ny 1\nx 2\n'), []); // split family
});

test('misuse is refused: bad names, wrong labels, negative counter steps, duplicates', () => {
  const r = new Registry();
  assert.throws(() => r.counter({ name: '1x', help: '' }), /not a valid metric name/);
  const c = r.counter({ name: 'c_total', help: '', labelNames: ['a'] });
  assert.throws(() => c.inc({ b: 'x' }), /labels must be exactly \{a\}/);
  assert.throws(() => c.inc({ a: 'x' }, -1), /Cannot decrease/);
  assert.throws(() => r.counter({ name: 'c_total', help: '' }), /already registered/);
  assert.throws(() => r.histogram({ name: 'h', help: '', labelNames: ['le'], buckets: [1] }), /reserved/);
});
