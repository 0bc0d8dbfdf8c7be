/** Images, their versions, which one is published and which nodes run each. */
import type { NodeSummary, StoredImage } from '../../api/wire.js';
import { ApiProblem } from './api.js';
import { h } from './dom.js';
import { formatBytes } from './format.js';

export function renderImages(root: HTMLElement, images: readonly StoredImage[] | ApiProblem, nodes: readonly NodeSummary[]): void {
  if (images instanceof ApiProblem) {
    root.replaceChildren(h('div', { class: 'message error', role: 'alert' }, h('strong', {}, images.message), images.hint ? ` ${images.hint}` : ''));
    return;
  }
  if (!images.length) {
    root.replaceChildren(h('p', { class: 'empty' }, 'No images yet: build one with diskless image build NAME --from …'));
    return;
  }
  const names = new Map(nodes.map((n) => [n.mac, n.hostname || n.mac]));
  root.replaceChildren(
    ...images.map((img) =>
      h(
        'section',
        { class: 'card image', 'data-image': img.name },
        h('h3', {}, img.name),
        h('p', { class: 'note' }, img.published ? `Published ${img.published}${img.publishedAt ? ` since ${img.publishedAt}` : ''}` : 'Nothing published: nodes of this image cannot boot.'),
        h(
          'table',
          { class: 'grid' },
          h('thead', {}, h('tr', {}, ...['Version', '', 'Created', 'Kernel', 'Size', 'Running on'].map((c) => h('th', {}, c)))),
          h(
            'tbody',
            {},
            ...[...img.versions].sort((a, b) => b.created.localeCompare(a.created)).map((v) =>
              h(
                'tr',
                { 'data-version': v.version, class: v.published ? 'published' : undefined },
                h('td', { class: 'mono' }, v.version),
                h('td', {}, v.published ? h('span', { class: 'badge s-booted' }, 'published') : ''),
                h('td', {}, v.created),
                h('td', { class: 'mono' }, v.kernelVersion ?? '—'),
                h('td', {}, formatBytes(v.size)),
                h('td', { class: 'nodes' }, ...v.nodes.flatMap((mac, i) => [i ? ', ' : '', h('a', { href: `#/node/${mac}` }, names.get(mac) ?? mac)])),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
