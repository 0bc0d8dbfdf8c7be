import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TimelineEntry } from '../../events/boot-timeline.js';
import { bootTimeline } from '../../events/boot-timeline.js';
import { NodeStates } from '../../events/node-state.js';
import { BootScript, T0 } from '../../events/testdata/boot-sequences.js';
import { formatOffset, niceStep, timelineGeometry, timelineSvg } from './timeline-svg.js';

const LAYOUT = { width: 600, labelWidth: 80, rowHeight: 20, barHeight: 10 };

/** A boot that failed in root: dhcp 0–200 ms, load 200–1000, network 1000–2000, root 2000–3000. */
const FAILED: TimelineEntry[] = [
  { name: 'dhcp', status: 'ok', start: T0, end: T0 + 200, durationMs: 200, detail: '' },
  { name: 'load', status: 'ok', start: T0 + 200, end: T0 + 1000, durationMs: 800, detail: '' },
  { name: 'network', status: 'ok', start: T0 + 1000, end: T0 + 2000, durationMs: 1000, detail: 'duration_ms=1000' },
  { name: 'root', status: 'failed', start: T0 + 2000, end: T0 + 3000, durationMs: 1000, detail: 'sha256 mismatch' },
];

test('bars sit on one time axis: x from the start, width from the duration', () => {
  const g = timelineGeometry(FAILED, T0 + 10_000, LAYOUT);
  // chart 80..588 (508 px): at most 5 ticks (100 px apart) → 1 s steps; 3000 ms → 508 px.
  assert.equal(g.chartX, 80);
  assert.equal(g.chartWidth, 508);
  assert.deepEqual(g.bars.map((b) => [b.name, b.x, b.width, b.y]), [
    ['dhcp', 80, 33.9, 11],
    ['load', 113.9, 135.5, 31],
    ['network', 249.3, 169.3, 51],
    ['root', 418.7, 169.3, 71],
  ]);
  assert.deepEqual(g.ticks.map((t) => t.label), ['0', '1 s', '2 s', '3 s']);
  assert.equal(g.ticks.at(-1)!.x, 588);
  assert.equal(g.height, 6 + 4 * 20 + 4 + 22);
});

test('the failed stage is red, carries its cause, and its label moves inside or left when it does not fit', () => {
  const g = timelineGeometry(FAILED, T0 + 10_000, LAYOUT);
  const root = g.bars.at(-1)!;
  assert.equal(root.fill, '#c53030');
  assert.equal(root.label, '1 s · failed: sha256 mismatch');
  assert.match(root.title, /^root: failed, 1 s — sha256 mismatch$/);
  // 29 characters (~180 px) do not fit right of a bar ending at the chart's edge, nor in 169 px.
  assert.deepEqual([root.labelAnchor, root.labelInside, root.labelX], ['end', false, 414.7]);
  assert.deepEqual([g.bars[0]!.labelAnchor, g.bars[0]!.labelX], ['start', 117.9]);
});

test('a running stage reaches now; a stage without times follows the one before, dashed', () => {
  const rows: TimelineEntry[] = [
    { name: 'dhcp', status: 'ok', start: T0, end: T0 + 1000, durationMs: 1000, detail: '' },
    { name: 'modules', status: 'ok', detail: '' },
    { name: 'network', status: 'running', start: T0 + 1000, detail: '' },
  ];
  const g = timelineGeometry(rows, T0 + 4000, LAYOUT);
  const [, modules, network] = g.bars;
  assert.deepEqual([modules!.estimated, modules!.x, modules!.width, modules!.label], [true, 207, 2, 'time unknown']);
  assert.equal(network!.label, '3 s…');
  assert.equal(network!.x + network!.width, 588);
  assert.match(timelineSvg(g), /stroke-dasharray="3 2"/);
});

test('golden SVG of a failed boot, and node text is escaped', () => {
  const rows: TimelineEntry[] = [
    { name: 'network', status: 'ok', start: T0, end: T0 + 1500, durationMs: 1500, detail: '' },
    { name: 'root<script>', status: 'failed', start: T0 + 1500, end: T0 + 2000, durationMs: 500, detail: 'wget: "404" & <gone>' },
  ];
  const svg = timelineSvg(timelineGeometry(rows, T0 + 2000, { width: 400, labelWidth: 80, rowHeight: 20, barHeight: 10 }));
  assert.equal(svg, GOLDEN);
  assert.doesNotMatch(svg, /<script>/);
});

const GOLDEN = `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="400" height="72" viewBox="0 0 400 72" role="img" aria-label="Boot timeline" font-family="system-ui, sans-serif" font-size="11">
<line x1="80" y1="0" x2="80" y2="50" stroke="#e2e8f0"/>
<text x="80" y="64" text-anchor="middle" fill="#4a5568">0</text>
<line x1="234" y1="0" x2="234" y2="50" stroke="#e2e8f0"/>
<text x="234" y="64" text-anchor="middle" fill="#4a5568">1 s</text>
<line x1="388" y1="0" x2="388" y2="50" stroke="#e2e8f0"/>
<text x="388" y="64" text-anchor="end" fill="#4a5568">2 s</text>
<line x1="80" y1="50" x2="388" y2="50" stroke="#a0aec0"/>
<g class="stage" data-stage="network" data-status="ok">
<title>network: ok, 1.5 s</title>
<text x="72" y="20" text-anchor="end" fill="#1a202c">network</text>
<rect x="80" y="11" width="231" height="10" rx="2" fill="#2f855a"/>
<text class="duration" x="315" y="20" text-anchor="start" fill="#2d3748">1.5 s</text>
</g>
<g class="stage" data-stage="root&#60;script&#62;" data-status="failed">
<title>root&#60;script&#62;: failed, 500 ms — wget: &#34;404&#34; &#38; &#60;gone&#62;</title>
<text x="72" y="40" text-anchor="end" fill="#1a202c" font-weight="bold">root&#60;script&#62;</text>
<rect x="311" y="31" width="77" height="10" rx="2" fill="#c53030"/>
<path d="M384 32L392 40M392 32L384 40" stroke="#742a2a" stroke-width="2"/>
<text class="duration" x="307" y="40" text-anchor="end" fill="#c53030">500 ms · failed: wget: &#34;404&#34; &#38; &#60;gone&#62;</text>
</g>
</svg>`;

test('the API timeline of a real boot sequence draws every row in order', () => {
  const s = new BootScript().at(0).firmwareToKernel()
    .at(4100).report('network', 'ok', 'duration_ms=1500', 2300)
    .at(7400).report('root', 'failed', 'sha256 mismatch', 5600);
  const states = new NodeStates();
  for (const e of s.events) states.apply(e);
  const rows = bootTimeline(states.get(s.mac)!.boot!);
  const g = timelineGeometry(rows, T0 + 8000);
  assert.deepEqual(g.bars.map((b) => [b.name, b.status]), [['dhcp', 'ok'], ['load', 'ok'], ['network', 'ok'], ['root', 'failed']]);
  for (const [a, b] of g.bars.slice(0, -1).map((b, i) => [b, g.bars[i + 1]!] as const)) assert.ok(a.x <= b.x, `${a.name} starts before ${b.name}`);
  assert.ok(g.bars.every((b) => b.x >= g.chartX && b.x + b.width <= g.chartX + g.chartWidth + 0.1));
});

test('axis steps are round numbers', () => {
  assert.equal(niceStep(3000, 6), 500);
  assert.equal(niceStep(45_000, 8), 10_000);
  assert.equal(niceStep(400_000, 8), 60_000);
  assert.equal(formatOffset(90_000), '1 min 30 s');
});
