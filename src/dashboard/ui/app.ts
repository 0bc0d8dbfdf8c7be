/**
 * The dashboard page: loads the lists from /api/v1, follows /api/v1/events/stream and redraws
 * what an event touched, without reloading. Views are chosen by the URL fragment:
 * #/ (fleet), #/node/MAC, #/discovered, #/images, #/rollouts.
 */
import type { BootEvent, DiscoveredMachine, EventPage, FailureReport, ImageList, NodeDetail, NodeSummary, Profile, ProfileList, RolloutList, StoredImage } from '../../api/wire.js';
import { API, ApiProblem, getAll, getJson, serverNow, tokenStore } from './api.js';
import { DiscoveredView } from './discovered-view.js';
import { byId, h } from './dom.js';
import { runningImages } from './fleet-model.js';
import { FleetView } from './fleet-view.js';
import { renderImages } from './images-view.js';
import { renderNode } from './node-view.js';
import { RolloutsView } from './rollouts-view.js';

type ViewName = 'fleet' | 'node' | 'discovered' | 'images' | 'rollouts';

const model = {
  nodes: [] as NodeSummary[],
  discovered: [] as DiscoveredMachine[],
  images: [] as StoredImage[] | ApiProblem,
  rollouts: { current: null, history: [] } as RolloutList | ApiProblem,
  profiles: [] as Profile[],
  defaultProfile: null as string | null,
};

const fleet = new FleetView(byId('view-fleet'), serverNow);
const discovered = new DiscoveredView(byId('view-discovered'), {
  now: serverNow,
  profiles: () => ({ profiles: model.profiles, defaultProfile: model.defaultProfile }),
  adopted: () => void reloadAll(),
});
const rollouts = new RolloutsView(byId('view-rollouts'), () => void reloadRollouts());

function route(): { view: ViewName; mac?: string } {
  const m = /^#\/node\/([0-9a-f:]{17})$/i.exec(location.hash);
  if (m) return { view: 'node', mac: m[1]!.toLowerCase() };
  if (location.hash === '#/discovered') return { view: 'discovered' };
  if (location.hash === '#/images') return { view: 'images' };
  if (location.hash === '#/rollouts') return { view: 'rollouts' };
  return { view: 'fleet' };
}

function show(): void {
  const r = route();
  for (const v of ['fleet', 'node', 'discovered', 'images', 'rollouts'] as const) byId(`view-${v}`).hidden = v !== r.view;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) a.classList.toggle('current', a.dataset.view === (r.view === 'node' ? 'fleet' : r.view));
  if (r.view === 'node' && r.mac) void loadNode(r.mac);
  if (r.view === 'images') drawImages();
  if (r.view === 'rollouts') drawRollouts();
}

function drawLists(): void {
  fleet.update(model.nodes, model.images instanceof ApiProblem ? new Map() : runningImages(model.images));
  discovered.update(model.discovered);
  byId('discovered-count').textContent = model.discovered.length ? String(model.discovered.length) : '';
  if (route().view === 'images') drawImages();
}

function drawRollouts(): void {
  const r = model.rollouts;
  const cur = r instanceof ApiProblem ? null : r.current;
  byId('rollout-state').textContent = cur && (cur.status === 'running' || cur.status === 'paused') ? cur.status : '';
  if (route().view === 'rollouts') rollouts.update(r, serverNow());
}

/** A server without rollouts answers 503: the rest of the page still works. */
function loadRollouts(): Promise<RolloutList | ApiProblem> {
  return getJson<RolloutList>('/rollouts').catch((e: unknown) => (e instanceof ApiProblem ? e : new ApiProblem(0, String(e), '')));
}

async function reloadRollouts(): Promise<void> {
  model.rollouts = await loadRollouts();
  drawRollouts();
}

function drawImages(): void {
  renderImages(byId('view-images'), model.images, model.nodes);
}

async function reloadAll(): Promise<void> {
  try {
    const [nodes, disc, profiles, images] = await Promise.all([
      getAll<NodeSummary>('/nodes', 'nodes'),
      getAll<DiscoveredMachine>('/discovered', 'discovered').then(newestFirst),
      getJson<ProfileList>('/profiles'),
      loadImages(),
    ]);
    Object.assign(model, { nodes, discovered: disc, profiles: profiles.profiles, defaultProfile: profiles.defaultProfile, images, rollouts: await loadRollouts() });
    banner(undefined);
    drawLists();
    drawRollouts();
  } catch (e) {
    banner(e instanceof ApiProblem ? e : new ApiProblem(0, String(e), ''));
  }
}

/** The API pages in MAC order; the page lists what was seen last first. */
function newestFirst(machines: NodeSummary[]): NodeSummary[] {
  return [...machines].sort((a, b) => (b.lastEvent?.time ?? 0) - (a.lastEvent?.time ?? 0));
}

/** The node view shows the latest boot and the events from its start on. */
async function loadNode(mac: string): Promise<void> {
  const root = byId('view-node');
  try {
    const detail = await getJson<NodeDetail>(`/nodes/${mac}`);
    const since = detail.bootStartedAt === null ? 'limit=100' : `since=${encodeURIComponent(new Date(detail.bootStartedAt).toISOString())}&limit=1000`;
    const { events } = await getJson<EventPage>(`/nodes/${mac}/events?${since}`);
    const report = detail.failureReport ? await getJson<FailureReport>(`/nodes/${mac}/failure-report`) : undefined;
    if (route().mac !== mac) return;
    renderNode(root, detail, events, serverNow(), report);
  } catch (e) {
    const p = e instanceof ApiProblem ? e : new ApiProblem(0, String(e), '');
    root.replaceChildren(h('p', {}, h('a', { href: '#/' }, '← Fleet')), h('div', { class: 'message error', role: 'alert' }, h('strong', {}, p.message), p.hint ? ` ${p.hint}` : ''));
  }
}

// Live updates: events name the machines they touch; those are refreshed together a moment
// later, so a burst (a classroom powering on) costs a few requests, not one per event.
const dirty = new Set<string>();
let imagesDirty = false;
let flushTimer: ReturnType<typeof setTimeout> | undefined;
const FLUSH_MS = 200;
/** Beyond this many machines in one flush, one list request is cheaper than one per machine. */
const PER_NODE_LIMIT = 10;

let rolloutsDirty = false;

function onEvent(e: BootEvent): void {
  // A rollout's steps change the rollouts panel, not a machine's boot.
  if (e.kind === 'rollout') rolloutsDirty = true;
  else if (e.mac) dirty.add(e.mac);
  if (e.kind !== 'dhcp' && e.kind !== 'alert') imagesDirty = true;
  flushTimer ??= setTimeout(() => void flush(), FLUSH_MS);
}

async function flush(): Promise<void> {
  flushTimer = undefined;
  const macs = [...dirty];
  dirty.clear();
  const current = route();
  if (current.view === 'node' && current.mac && macs.includes(current.mac)) void loadNode(current.mac);
  const known = new Set(model.nodes.map((n) => n.mac));
  const refreshImages = imagesDirty;
  imagesDirty = false;
  if (rolloutsDirty) {
    rolloutsDirty = false;
    void reloadRollouts();
  }
  if (macs.length > PER_NODE_LIMIT || macs.some((m) => !known.has(m))) {
    await reloadAll();
    return;
  }
  try {
    const [fresh, images] = await Promise.all([Promise.all(macs.map((m) => getJson<NodeSummary>(`/nodes/${m}`))), refreshImages ? loadImages() : model.images]);
    model.nodes = model.nodes.map((n) => fresh.find((f) => f.mac === n.mac) ?? n);
    model.images = images;
    drawLists();
  } catch {
    await reloadAll();
  }
}

/** A server without an image store answers 503: the rest of the page still works. */
function loadImages(): Promise<StoredImage[] | ApiProblem> {
  return getJson<ImageList>('/images').then((r) => r.images, (e: unknown) => (e instanceof ApiProblem ? e : new ApiProblem(0, String(e), '')));
}

/**
 * Follows the event stream from the seq the lists were loaded at, so nothing between loading
 * and listening is missed; EventSource itself resumes with Last-Event-ID after a drop.
 */
function follow(afterSeq: number): void {
  const live = byId('live');
  const source = new EventSource(`${API}/events/stream?since=${afterSeq}`);
  let dropped = false;
  source.onopen = () => {
    live.dataset.state = 'live';
    live.textContent = 'live';
    // Whatever the server no longer holds for us is covered by reading everything again.
    if (dropped) void reloadAll();
    dropped = false;
  };
  source.onerror = () => {
    dropped = true;
    live.dataset.state = 'down';
    live.textContent = 'reconnecting…';
  };
  source.onmessage = (m: MessageEvent<string>) => {
    try {
      onEvent(JSON.parse(m.data) as BootEvent);
    } catch {
      // A line we cannot read is not worth breaking the page for.
    }
  };
}

function banner(p: ApiProblem | undefined): void {
  const el = byId('banner');
  el.hidden = !p;
  el.replaceChildren(...(p ? [h('strong', {}, p.message), p.hint ? ` ${p.hint}` : ''] : []));
}

function tokenUi(): void {
  const form = byId<HTMLFormElement>('token-form');
  const input = byId<HTMLInputElement>('token-input');
  const set = byId('token-set');
  const draw = () => {
    const has = tokenStore.get() !== null;
    form.hidden = has;
    set.hidden = !has;
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (input.value.trim()) tokenStore.set(input.value.trim());
    input.value = '';
    draw();
  });
  byId('token-forget').addEventListener('click', () => {
    tokenStore.clear();
    draw();
  });
  draw();
}

async function start(): Promise<void> {
  tokenUi();
  window.addEventListener('hashchange', show);
  setInterval(() => fleet.tick(), 1000);
  // Inventory edits made elsewhere (the CLI, the config file) send no event: re-read now and then.
  setInterval(() => void reloadAll(), 30_000);
  let lastSeq = 0;
  try {
    lastSeq = (await getJson<EventPage>('/events?limit=1')).lastSeq;
  } catch (e) {
    banner(e instanceof ApiProblem ? e : undefined);
  }
  await reloadAll();
  follow(lastSeq);
  show();
  document.body.dataset.ready = 'true';
}

void start();
