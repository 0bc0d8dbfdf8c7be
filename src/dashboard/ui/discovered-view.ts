/** Machines seen but not in the inventory, and the form that adopts one. */
import type { NodeSummary, Profile } from '../../api/wire.js';
import { ApiProblem, postJson } from './api.js';
import { h } from './dom.js';
import { badge } from './fleet-view.js';
import { formatAgo } from './format.js';

export interface DiscoveredContext {
  now(): number;
  profiles(): { profiles: readonly Profile[]; defaultProfile: string | null };
  /** After an adoption: reload the lists. */
  adopted(mac: string): void;
}

export class DiscoveredView {
  readonly #table = h('table', { class: 'grid', id: 'discovered-table' });
  readonly #formBox = h('div', { id: 'adopt-box' });
  readonly #message = h('div', { id: 'adopt-message', role: 'status' });
  #machines: NodeSummary[] = [];
  #adopting: string | undefined;

  constructor(
    root: HTMLElement,
    private readonly ctx: DiscoveredContext,
  ) {
    root.replaceChildren(
      h('p', { class: 'note' }, 'Machines that asked for an address or a boot script but are not in the inventory. Adopting one adds it as a node; it boots its profile at its next retry (registered machines retry every 30 s).'),
      this.#table,
      this.#message,
      this.#formBox,
    );
  }

  update(machines: readonly NodeSummary[]): void {
    this.#machines = [...machines];
    const rows = this.#machines.map((m) =>
      h(
        'tr',
        { 'data-mac': m.mac },
        h('td', { class: 'mono' }, m.mac),
        h('td', { class: 'mono' }, m.ip ?? ''),
        h('td', {}, badge(m.status)),
        h('td', { class: 'last', title: m.lastEvent?.detail ?? '' }, m.lastEvent ? `${m.lastEvent.kind} ${m.lastEvent.name}` : ''),
        h('td', { class: 'ago', 'data-time': m.lastEvent?.time ?? '' }, m.lastEvent ? formatAgo(m.lastEvent.time, this.ctx.now()) : ''),
        h('td', {}, h('button', { type: 'button', class: 'adopt', onclick: () => this.#openForm(m.mac) }, 'Adopt…')),
      ),
    );
    this.#table.replaceChildren(
      h('thead', {}, h('tr', {}, ...['MAC', 'Address', 'State', 'Last event', 'Ago', ''].map((c) => h('th', {}, c)))),
      h('tbody', {}, ...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No unknown machines seen.'))])),
    );
    // The form stays open while its machine is still listed (a live update must not eat typing).
    if (this.#adopting && !this.#machines.some((m) => m.mac === this.#adopting)) this.#closeForm();
  }

  #openForm(mac: string): void {
    this.#adopting = mac;
    this.#message.replaceChildren();
    const { profiles, defaultProfile } = this.ctx.profiles();
    const hostname = h('input', { name: 'hostname', id: 'adopt-hostname', required: true, autocomplete: 'off', pattern: '[A-Za-z0-9]([A-Za-z0-9\\-]{0,61}[A-Za-z0-9])?', title: 'Letters, digits and hyphens' });
    // "Default" is offered only when the server has one (default_profile, or a profile named
    // default); otherwise the first profile is preselected rather than a choice it would refuse.
    const fallback = defaultProfile || (profiles.some((p) => p.name === 'default') ? 'default' : '');
    const profile = h(
      'select',
      { name: 'profile', id: 'adopt-profile', required: true },
      ...(fallback ? [h('option', { value: '' }, `default (${fallback})`)] : []),
      ...profiles.map((p) => h('option', { value: p.name }, p.image ? `${p.name} (${p.image})` : p.name)),
    );
    const address = h('input', { name: 'address', id: 'adopt-address', autocomplete: 'off', placeholder: 'optional, e.g. 10.77.0.60', pattern: '\\d{1,3}(\\.\\d{1,3}){3}', title: 'An IPv4 address' });
    const submit = h('button', { type: 'submit' }, 'Add to inventory');
    const form = h(
      'form',
      { id: 'adopt-form', class: 'card' },
      h('h3', {}, `Adopt ${mac}`),
      h('label', {}, 'Hostname ', hostname),
      h('label', {}, 'Profile ', profile),
      h('label', {}, 'Address ', address),
      h('div', { class: 'buttons' }, submit, h('button', { type: 'button', onclick: () => this.#closeForm() }, 'Cancel')),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const body: Record<string, string> = { hostname: hostname.value.trim() };
      if (profile.value) body.profile = profile.value;
      if (address.value.trim()) body.address = address.value.trim();
      submit.disabled = true;
      postJson(`/discovered/${mac}/adopt`, body)
        .then(() => {
          this.#closeForm();
          this.#say('ok', `Adopted ${mac} as ${body.hostname}.`, 'It is now in the fleet table.');
          this.ctx.adopted(mac);
        })
        .catch((e: unknown) => {
          const p = e instanceof ApiProblem ? e : new ApiProblem(0, String(e), '');
          this.#say('error', p.message, p.hint);
        })
        .finally(() => (submit.disabled = false));
    });
    this.#formBox.replaceChildren(form);
    hostname.focus();
  }

  #closeForm(): void {
    this.#adopting = undefined;
    this.#formBox.replaceChildren();
  }

  /** The API's {error, hint} as they are: the hint says what to do about it. */
  #say(kind: 'ok' | 'error', text: string, hint: string): void {
    this.#message.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    this.#message.className = `message ${kind}`;
    this.#message.replaceChildren(h('strong', {}, text), ...(hint ? [h('span', { class: 'hint' }, ` ${hint}`)] : []));
  }
}
