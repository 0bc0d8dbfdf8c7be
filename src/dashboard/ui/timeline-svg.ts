/**
 * A node's boot timeline as a picture: one bar per stage on a shared time axis, durations
 * written beside the bars, the failed stage red with its cause. Geometry and rendering are
 * pure (no DOM), so tests pin them and the page only inserts the string.
 */
import type { TimelineEntry } from '../../api/wire.js';
import { formatDuration } from './format.js';

export interface TimelineLayout {
  /** Whole picture width in px (the page passes its container's width). */
  width: number;
  /** Left column for stage names. */
  labelWidth: number;
  rowHeight: number;
  barHeight: number;
}

export const DEFAULT_LAYOUT: TimelineLayout = { width: 900, labelWidth: 96, rowHeight: 24, barHeight: 14 };

export interface TimelineBar {
  name: string;
  status: TimelineEntry['status'];
  x: number;
  y: number;
  width: number;
  height: number;
  fill: string;
  /** Neither the node nor the server knew when it started: drawn after the row before, dashed. */
  estimated: boolean;
  label: string;
  labelX: number;
  labelAnchor: 'start' | 'end';
  /** Written on the bar itself (white) because it does not fit beside it. */
  labelInside: boolean;
  /** Hover text: the whole cause, which the label may shorten. */
  title: string;
}

export interface TimelineTick {
  x: number;
  label: string;
}

export interface TimelineGeometry {
  width: number;
  height: number;
  chartX: number;
  chartWidth: number;
  axisY: number;
  ticks: TimelineTick[];
  bars: TimelineBar[];
}

/** Colours by status; the page's legend uses the same. */
export const STATUS_FILL: Readonly<Record<TimelineEntry['status'], string>> = {
  ok: '#2f855a',
  running: '#2b6cb0',
  retry: '#c05621',
  failed: '#c53030',
};

const TOP = 6;
const RIGHT_PAD = 12;
const AXIS_HEIGHT = 22;
/** Average width of one character at font-size 11, enough to decide where a label fits. */
const CHAR_PX = 6.2;
const MAX_CAUSE = 60;
const NICE_STEPS = [100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000];

/**
 * Places the rows of `bootTimeline` (src/events/boot-timeline.ts). Rows without a start are
 * put where the row before ended; rows still running reach `now`.
 */
export function timelineGeometry(rows: readonly TimelineEntry[], now: number, layout: TimelineLayout = DEFAULT_LAYOUT): TimelineGeometry {
  const chartX = layout.labelWidth;
  const chartWidth = Math.max(100, layout.width - chartX - RIGHT_PAD);
  const spans: Array<{ row: TimelineEntry; start: number; end: number; estimated: boolean }> = [];
  const knownStarts = rows.flatMap((r) => (r.start === undefined ? [] : [r.start]));
  const origin = knownStarts.length ? Math.min(...knownStarts) : now;
  let previousEnd = origin;
  for (const row of rows) {
    const start = row.start ?? previousEnd;
    const open = row.status === 'running' || row.status === 'retry';
    const end = row.end ?? (row.durationMs !== undefined ? start + row.durationMs : open ? Math.max(start, now) : start);
    spans.push({ row, start, end, estimated: row.start === undefined });
    previousEnd = Math.max(previousEnd, end);
  }
  const spanMs = Math.max(1000, ...spans.map((s) => s.end - origin));
  const step = niceStep(spanMs, Math.max(2, Math.floor(chartWidth / 100)));
  const scale = chartWidth / (Math.ceil(spanMs / step) * step);
  const axisY = TOP + rows.length * layout.rowHeight + 4;
  const ticks: TimelineTick[] = [];
  for (let t = 0; t * scale <= chartWidth + 0.01; t += step) ticks.push({ x: round(chartX + t * scale), label: formatOffset(t) });

  const bars = spans.map(({ row, start, end, estimated }, i): TimelineBar => {
    const x = chartX + (start - origin) * scale;
    const width = Math.max(2, (end - start) * scale);
    const y = TOP + i * layout.rowHeight + (layout.rowHeight - layout.barHeight) / 2;
    const running = row.status === 'running' || row.status === 'retry';
    const duration = row.durationMs ?? (row.end !== undefined || running ? end - start : undefined);
    const time = duration === undefined ? 'time unknown' : `${formatDuration(duration)}${running ? '…' : ''}`;
    const cause = row.status === 'failed' && row.detail ? ` · failed: ${shorten(row.detail, MAX_CAUSE)}` : row.status === 'failed' ? ' · failed' : row.status === 'retry' ? ' · retrying' : '';
    const label = time + cause;
    const textPx = label.length * CHAR_PX;
    const placement =
      x + width + 4 + textPx <= chartX + chartWidth ? { labelX: x + width + 4, labelAnchor: 'start' as const, labelInside: false }
      : width >= textPx + 8 ? { labelX: x + width - 4, labelAnchor: 'end' as const, labelInside: true }
      : { labelX: x - 4, labelAnchor: 'end' as const, labelInside: false };
    return {
      name: row.name,
      status: row.status,
      x: round(x),
      y: round(y),
      width: round(width),
      height: layout.barHeight,
      fill: STATUS_FILL[row.status],
      estimated,
      label,
      ...placement,
      labelX: round(placement.labelX),
      title: `${row.name}: ${row.status}${duration === undefined ? '' : `, ${formatDuration(duration)}`}${row.detail ? ` — ${row.detail}` : ''}`,
    };
  });
  return { width: layout.width, height: axisY + AXIS_HEIGHT, chartX, chartWidth: round(chartWidth), axisY, ticks, bars };
}

/** The geometry as an SVG document fragment; every text from a node is escaped. */
export function timelineSvg(g: TimelineGeometry): string {
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="${g.width}" height="${g.height}" viewBox="0 0 ${g.width} ${g.height}" role="img" aria-label="Boot timeline" font-family="system-ui, sans-serif" font-size="11">`);
  for (const [i, t] of g.ticks.entries()) {
    // The last label ends at the chart's edge instead of being cut by the picture's.
    const anchor = i > 0 && i === g.ticks.length - 1 ? 'end' : 'middle';
    out.push(`<line x1="${t.x}" y1="0" x2="${t.x}" y2="${g.axisY}" stroke="#e2e8f0"/>`);
    out.push(`<text x="${t.x}" y="${g.axisY + 14}" text-anchor="${anchor}" fill="#4a5568">${esc(t.label)}</text>`);
  }
  out.push(`<line x1="${g.chartX}" y1="${g.axisY}" x2="${round(g.chartX + g.chartWidth)}" y2="${g.axisY}" stroke="#a0aec0"/>`);
  for (const b of g.bars) {
    const textY = round(b.y + b.height / 2 + 4);
    out.push(`<g class="stage" data-stage="${esc(b.name)}" data-status="${b.status}">`);
    out.push(`<title>${esc(b.title)}</title>`);
    out.push(`<text x="${g.chartX - 8}" y="${textY}" text-anchor="end" fill="#1a202c"${b.status === 'failed' ? ' font-weight="bold"' : ''}>${esc(b.name)}</text>`);
    const dash = b.estimated ? ' stroke="#1a202c" stroke-dasharray="3 2" fill-opacity="0.5"' : '';
    out.push(`<rect x="${b.x}" y="${b.y}" width="${b.width}" height="${b.height}" rx="2" fill="${b.fill}"${dash}/>`);
    if (b.status === 'failed') {
      // A cross at the end of the bar: the failure must show without colour vision too.
      const cx = round(b.x + b.width);
      const cy = round(b.y + b.height / 2);
      out.push(`<path d="M${cx - 4} ${cy - 4}L${cx + 4} ${cy + 4}M${cx + 4} ${cy - 4}L${cx - 4} ${cy + 4}" stroke="#742a2a" stroke-width="2"/>`);
    }
    const labelFill = b.labelInside ? '#ffffff' : b.status === 'failed' ? '#c53030' : '#2d3748';
    out.push(`<text class="duration" x="${b.labelX}" y="${textY}" text-anchor="${b.labelAnchor}" fill="${labelFill}">${esc(b.label)}</text>`);
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('\n');
}

/** The smallest step from NICE_STEPS that draws at most `maxTicks` intervals over `spanMs`. */
export function niceStep(spanMs: number, maxTicks: number): number {
  for (const s of NICE_STEPS) if (spanMs / s <= maxTicks) return s;
  return Math.ceil(spanMs / maxTicks / 3_600_000) * 3_600_000;
}

/** Axis labels: 0, 0.5 s, 12 s, 1 min 30 s. */
export function formatOffset(ms: number): string {
  return ms === 0 ? '0' : formatDuration(ms);
}

function shorten(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
