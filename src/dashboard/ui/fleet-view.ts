/** The fleet table: sortable by any column, filtered by text and state, "ago" kept current. */
import type { NodeStatus, NodeSummary } from '../../api/wire.js';
import { h } from './dom.js';
import { fleetRow, filterRows, sortRows, type FleetRow, type RunningImages, type SortKey } from './fleet-model.js';
import { formatAgo } from './format.js';

const COLUMNS: ReadonlyArray<{ key: SortKey; label: string }> = [
  { key: 'hostname', label: 'Hostname' },
  { key: 'mac', label: 'MAC' },
  { key: 'address', label: 'Address' },
  { key: 'status', label: 'State' },
  { key: 'stage', label: 'Stage' },
  { key: 'image', label: 'Image' },
  { key: 'lastEvent', label: 'Last event' },
  { key: 'ago', label: 'Ago' },
];

export const STATUSES: readonly NodeStatus[] = ['failed', 'initramfs', 'loading', 'dhcp', 'booted', 'discovered', 'offline'];

export class FleetView {
  #rows: FleetRow[] = [];
  #sort: SortKey = 'hostname';
  #descending = false;
  readonly #tbody = h('tbody');
  readonly #head = h('tr');
  readonly #filter = h('input', { type: 'search', id: 'fleet-filter', placeholder: 'Filter: hostname, MAC, address, stage, image…', 'aria-label': 'Filter nodes' });
  readonly #status = h('select', { id: 'fleet-status', 'aria-label': 'Only nodes in state' }, h('option', { value: '' }, 'All states'), ...STATUSES.map((s) => h('option', { value: s }, s)));
  readonly #count = h('span', { class: 'count', id: 'fleet-count' });

  constructor(
    root: HTMLElement,
    private readonly now: () => number,
  ) {
    this.#filter.addEventListener('input', () => this.#draw());
    this.#status.addEventListener('change', () => this.#draw());
    root.replaceChildren(
      h('div', { class: 'toolbar' }, this.#filter, this.#status, this.#count),
      h('table', { id: 'fleet-table', class: 'grid' }, h('thead', {}, this.#head), this.#tbody),
    );
    this.#drawHead();
  }

  update(nodes: readonly NodeSummary[], running: RunningImages): void {
    this.#rows = nodes.map((n) => fleetRow(n, running));
    this.#draw();
  }

  /** Once a second: only the "ago" cells change, so nothing else is redrawn. */
  tick(): void {
    for (const td of this.#tbody.querySelectorAll<HTMLElement>('td.ago')) {
      const t = Number(td.dataset.time);
      td.textContent = Number.isFinite(t) && td.dataset.time ? formatAgo(t, this.now()) : '';
    }
  }

  #drawHead(): void {
    this.#head.replaceChildren(
      ...COLUMNS.map((c) => {
        const sorted = c.key === this.#sort;
        const button = h('button', { type: 'button', onclick: () => this.#sortBy(c.key) }, c.label, sorted ? (this.#descending ? ' ▼' : ' ▲') : '');
        return h('th', { 'data-key': c.key, 'aria-sort': sorted ? (this.#descending ? 'descending' : 'ascending') : 'none' }, button);
      }),
    );
  }

  #sortBy(key: SortKey): void {
    this.#descending = key === this.#sort ? !this.#descending : false;
    this.#sort = key;
    this.#drawHead();
    this.#draw();
  }

  #draw(): void {
    const shown = sortRows(filterRows(this.#rows, this.#filter.value, this.#status.value as NodeStatus | ''), this.#sort, this.#descending);
    this.#count.textContent = shown.length === this.#rows.length ? `${shown.length} nodes` : `${shown.length} of ${this.#rows.length} nodes`;
    this.#tbody.replaceChildren(
      ...(shown.length ? shown.map((r) => this.#row(r)) : [h('tr', {}, h('td', { colspan: COLUMNS.length, class: 'empty' }, this.#rows.length ? 'No node matches the filter.' : 'No nodes in the inventory yet.'))]),
    );
  }

  #row(r: FleetRow): HTMLTableRowElement {
    const link = `#/node/${r.mac}`;
    return h(
      'tr',
      { 'data-mac': r.mac, 'data-status': r.status },
      h('td', { class: 'hostname' }, h('a', { href: link }, r.hostname || '(no hostname)')),
      h('td', { class: 'mono' }, h('a', { href: link }, r.mac)),
      h('td', { class: 'mono' }, r.address),
      h('td', { class: 'state' }, badge(r.status, r.cause)),
      h('td', { class: 'stage' }, r.stage),
      h('td', { class: 'image mono', title: r.imageTitle }, r.image),
      h('td', { class: 'last', title: r.lastEvent }, r.lastEvent),
      h('td', { class: 'ago', 'data-time': r.lastEventTime ?? '' }, r.lastEventTime === undefined ? '' : formatAgo(r.lastEventTime, this.now())),
    );
  }
}

/** The state as a coloured word; a failed one carries its cause as a tooltip. */
export function badge(status: NodeStatus, cause = ''): HTMLSpanElement {
  return h('span', { class: `badge s-${status}`, 'data-state': status, title: cause || undefined }, status);
}
