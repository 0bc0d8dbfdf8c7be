/** The rollout under way (or the last one) node by node, with pause, resume and abort, and the ones before it. */
import type { Rollout, RolloutList } from '../../api/wire.js';
import { ApiProblem, postJson } from './api.js';
import { h } from './dom.js';

const CLASS: Readonly<Record<string, string>> = {
  done: 's-booted', 'rolled-back': 's-loading', waiting: 's-initramfs', 'rolling-back': 's-initramfs', 'rollback-failed': 's-failed', pending: 's-offline', skipped: 's-offline',
};

export class RolloutsView {
  #message: HTMLElement = h('div', { class: 'message', role: 'status', hidden: true });

  constructor(
    private readonly root: HTMLElement,
    private readonly changed: () => void,
  ) {}

  update(list: RolloutList | ApiProblem, now: number): void {
    if (list instanceof ApiProblem) {
      this.root.replaceChildren(h('div', { class: 'message error', role: 'alert' }, h('strong', {}, list.message), list.hint ? ` ${list.hint}` : ''));
      return;
    }
    if (!list.current) {
      this.root.replaceChildren(h('p', { class: 'empty' }, 'No rollout yet: diskless rollout IMAGE VERSION starts one.'));
      return;
    }
    this.root.replaceChildren(this.#message, this.#card(list.current, now), ...(list.history.length ? [this.#history(list.history)] : []));
  }

  #card(r: Rollout, now: number): HTMLElement {
    const batch = 'count' in r.spec.batch ? String(r.spec.batch.count) : `${r.spec.batch.percent}%`;
    const buttons = (['pause', 'resume', 'abort'] as const)
      .filter((a) => (a === 'pause' ? r.status === 'running' : a === 'resume' ? r.status === 'paused' : r.status === 'running' || r.status === 'paused'))
      .map((a) => {
        const b = h('button', { type: 'button', 'data-action': a }, a[0]!.toUpperCase() + a.slice(1));
        b.addEventListener('click', () => void this.#act(r.id, a));
        return b;
      });
    return h(
      'section',
      { class: 'card rollout', 'data-rollout': r.id, 'data-status': r.status },
      h('h3', {}, `${r.spec.image}@${r.spec.version} `, h('span', { class: `badge ${r.status === 'completed' ? 's-booted' : r.status === 'stopped' || r.status === 'aborted' ? 's-failed' : 's-initramfs'}` }, r.status)),
      h('p', { class: 'note' }, `Rollout ${r.id}: ${r.waves} wave(s), canary ${r.spec.canary}, batch ${batch}, max failed ${r.spec.maxFailed}, timeout ${r.spec.timeoutSec} s${r.status === 'running' || r.status === 'paused' ? `; wave ${Math.max(0, r.wave) + 1} of ${r.waves}` : ''}`),
      ...(r.message ? [h('p', { class: r.status === 'stopped' ? 'failure' : 'note', id: 'rollout-message' }, r.message)] : []),
      ...(buttons.length ? [h('p', { class: 'actions' }, ...buttons)] : []),
      h(
        'table',
        { class: 'grid' },
        h('thead', {}, h('tr', {}, ...['Node', 'Wave', 'Status', 'Detail'].map((c) => h('th', {}, c)))),
        h(
          'tbody',
          {},
          ...r.nodes.map((n) =>
            h(
              'tr',
              { 'data-mac': n.mac, 'data-status': n.status },
              h('td', {}, h('a', { href: `#/node/${n.mac}` }, n.name)),
              h('td', {}, n.wave === 0 ? 'canary' : `batch ${n.wave}`),
              h('td', {}, h('span', { class: `badge ${CLASS[n.status] ?? ''}` }, n.status)),
              h(
                'td',
                {},
                [
                  n.failure ? `failed in stage ${n.failure.stage}: ${n.failure.cause}` : '',
                  n.rollbackFailure ? `going back failed in stage ${n.rollbackFailure.stage}: ${n.rollbackFailure.cause}` : '',
                  n.status === 'waiting' && n.deadline !== undefined ? `${Math.max(0, Math.round((n.deadline - now) / 1000))} s left` : '',
                  n.status === 'rolled-back' ? `runs ${n.previousVersion} again` : '',
                ].filter(Boolean).join('; '),
              ),
            ),
          ),
        ),
      ),
    );
  }

  #history(history: readonly Rollout[]): HTMLElement {
    return h(
      'section',
      { class: 'card' },
      h('h3', {}, 'Earlier rollouts'),
      h(
        'table',
        { class: 'grid' },
        h('thead', {}, h('tr', {}, ...['Rollout', 'Version', 'Status', 'Nodes', 'Outcome'].map((c) => h('th', {}, c)))),
        h('tbody', {}, ...history.map((r) => h('tr', {}, h('td', { class: 'mono' }, r.id), h('td', { class: 'mono' }, `${r.spec.image}@${r.spec.version}`), h('td', {}, r.status), h('td', {}, String(r.nodes.length)), h('td', {}, r.message ?? '')))),
      ),
    );
  }

  async #act(id: string, action: 'pause' | 'resume' | 'abort'): Promise<void> {
    try {
      await postJson(`/rollouts/${id}/${action}`, {});
      this.#message.hidden = true;
    } catch (e) {
      const p = e instanceof ApiProblem ? e : new ApiProblem(0, String(e), '');
      this.#message.hidden = false;
      this.#message.className = 'message error';
      this.#message.setAttribute('role', 'alert');
      this.#message.replaceChildren(h('strong', {}, p.message), p.hint ? ` ${p.hint}` : '');
    }
    this.changed();
  }
}
