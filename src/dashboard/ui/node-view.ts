/** One node: what it is, its latest boot as an SVG timeline, and that boot's events. */
import type { BootEvent, FailureReport, NodeDetail } from '../../api/wire.js';
import { h } from './dom.js';
import { badge } from './fleet-view.js';
import { formatDuration, shortVersion } from './format.js';
import { STATUS_FILL, timelineGeometry, timelineSvg } from './timeline-svg.js';

/** `report`: its last failure report in full, when the node has sent one. */
export function renderNode(root: HTMLElement, n: NodeDetail, events: readonly BootEvent[], now: number, report?: FailureReport): void {
  const title = n.hostname || n.mac;
  const image = n.image ?? (n.booted?.image ? { name: n.booted.image, version: n.booted.version ?? '' } : null);
  const svgBox = h('div', { class: 'timeline-box', id: 'timeline' });
  root.replaceChildren(
    h('p', {}, h('a', { href: '#/' }, '← Fleet')),
    h('h2', {}, title, ' ', badge(n.status, n.cause ?? '')),
    h(
      'dl',
      { class: 'facts' },
      ...fact('MAC', n.mac),
      ...fact('Address', n.address ?? n.ip ?? '—'),
      ...fact('Profile', n.profile ?? (n.known ? '—' : 'not in the inventory')),
      ...fact('Image', image ? `${image.name}@${shortVersion(image.version)}` : '—'),
      ...fact('Boots seen', String(n.bootCount)),
      ...fact('Stage', n.stage ?? '—'),
    ),
    ...(n.failure ? [h('div', { class: 'failure', role: 'alert', id: 'failure' }, h('strong', {}, `Failed in stage ${n.failure.stage}: `), n.failure.cause || '(no cause reported)')] : []),
    h('h3', {}, 'Latest boot'),
    svgBox,
    legend(),
    h('h3', {}, `Events of this boot (${events.length})`),
    eventsTable(events, n),
    ...(report ? failureReport(report) : []),
  );
  if (!n.timeline.length) {
    svgBox.replaceChildren(h('p', { class: 'empty' }, 'No boot recorded yet.'));
    return;
  }
  const width = Math.max(600, Math.min(1400, svgBox.clientWidth || 900));
  // The string is built by timelineSvg, which escapes every text that came from the node.
  svgBox.innerHTML = timelineSvg(timelineGeometry(n.timeline, now, { width, labelWidth: 96, rowHeight: 24, barHeight: 14 }));
}

/** The report /init sent when a boot failed under rd.shell=0: folded, its text as text. */
function failureReport(r: FailureReport): HTMLElement[] {
  return [
    h('h3', {}, 'Last failure report'),
    h(
      'details',
      { id: 'failure-report' },
      h('summary', {}, `Received ${new Date(r.at).toLocaleString()}: stage ${r.stage}: ${r.cause || '(no cause reported)'} (${r.bytes} bytes${r.truncated ? ', cut short' : ''})`),
      h('pre', { class: 'report' }, r.text),
    ),
  ];
}

function fact(term: string, value: string): HTMLElement[] {
  return [h('dt', {}, term), h('dd', {}, value)];
}

function legend(): HTMLElement {
  return h(
    'p',
    { class: 'legend' },
    ...Object.entries(STATUS_FILL).map(([status, fill]) => h('span', { class: `key k-${status}`, title: fill }, status)),
    h('span', { class: 'note' }, 'dhcp and load are the server’s view of the firmware; the rest are /init’s stage reports.'),
  );
}

function eventsTable(events: readonly BootEvent[], n: NodeDetail): HTMLElement {
  if (!events.length) return h('p', { class: 'empty' }, 'No events.');
  const t0 = n.bootStartedAt ?? events[0]!.time;
  const failedStage = n.failure?.stage;
  return h(
    'table',
    { class: 'grid events', id: 'node-events' },
    h('thead', {}, h('tr', {}, ...['Time', '+', 'Kind', 'Name', 'Detail'].map((c) => h('th', {}, c)))),
    h(
      'tbody',
      {},
      ...events.map((e) => {
        const inFailed = failedStage !== undefined && (e.kind === 'stage' || e.kind === 'failed') && e.name === failedStage;
        const cls = e.kind === 'failed' ? 'ev-failed' : inFailed ? 'ev-failed-stage' : e.kind === 'alert' ? 'ev-alert' : '';
        return h(
          'tr',
          { class: cls || undefined, 'data-kind': e.kind },
          h('td', { class: 'mono' }, clock(e.time)),
          h('td', { class: 'mono' }, `+${formatDuration(Math.max(0, e.time - t0))}`),
          h('td', {}, e.kind),
          h('td', {}, e.name),
          h('td', { class: 'detail' }, e.detail),
        );
      }),
    ),
  );
}

/** HH:MM:SS.mmm in the viewer's time zone. */
function clock(t: number): string {
  const d = new Date(t);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
