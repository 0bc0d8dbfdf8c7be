import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpHandler } from '../http/server.js';
import type { NodeConfig } from '../config/types.js';
import type { NodeState } from '../events/node-state.js';
import { nodeKey } from '../boot/boot-target.js';
import { normalizeMac } from '../net/mac.js';
import { canonicalAgentId } from '../net/switch-port.js';
import { MAX_QUERY_LIMIT, type EventQuery } from '../events/event-store.js';
import { checkBearer, cidrAllowList } from './access.js';
import type { ApiDeps, NodeFieldChanges, NodeFields } from './deps.js';
import { EventStreamSlots, streamEvents } from './event-stream.js';
import { nullLogger, type LogFields } from '../log/logger.js';
import { throttledLog } from '../log/throttled-log.js';
import { API_PREFIX, ENDPOINTS, matchPath, operationsOn, type Endpoint, type OperationOn } from './endpoints.js';
import { ApiError, readJsonObject, sendError, sendJson } from './http-json.js';
import { openApiDocument } from './openapi.js';
import { listPage, pageOfMacs } from './paging.js';
import { failureReportView, imageView, nodeDetail, nodeSummary, profileView, runningImage, sightingView } from './views.js';
import type { BatchSize, Rollout, RolloutList, Unpinned, VersionPinList } from './wire.js';
import type { RolloutRequest } from '../rollout/runner.js';
import type { DiscoveredMachine, DiscoveredPage, EventPage, ImageList, NodePage, NodeWritten, ProfileList, Published, RunningImage } from './wire.js';

/** The event stream cap and where its refusals and drops are logged. */
interface StreamContext {
  slots: EventStreamSlots;
  refused(fields: LogFields): void;
  dropped(fields: LogFields): void;
}

interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  deps: ApiDeps;
  streams: StreamContext;
  body(): Promise<Record<string, unknown>>;
}

/** Answers with JSON (returned value, status 200) or writes the response itself (undefined). */
type Handle = (ctx: RouteContext) => Promise<unknown>;

/** An endpoint of the admin listener (endpoints.ts) with its handler. */
export interface Route extends Endpoint {
  readonly id: OperationOn<'admin'>;
  readonly handle: Handle;
}

const NODE_KEYS = ['hostname', 'address', 'profile', 'cmdline', 'loader'] as const;
/** Fields of POST /nodes/{mac} beyond NODE_KEYS: a node's MAC and switch port (one of them must stay). */
const IDENTITY_KEYS = ['mac', 'switch_port'] as const;

/**
 * The inventory's nodes by the machine that is each: its MAC, or for a node known only by its
 * switch port, the machine whose last DHCP request was taken for it (none yet: not here, see
 * unboundPortNodes).
 */
function nodesByMachine(deps: ApiDeps): Map<string, NodeConfig> {
  const nodes = deps.inventory().nodes;
  const byMac = new Map<string, NodeConfig>();
  for (const n of nodes) if (n.mac !== undefined) byMac.set(n.mac, n);
  if (nodes.some((n) => n.mac === undefined)) {
    for (const s of deps.states.all()) {
      const node = portNodeOf(deps, s);
      if (node && !byMac.has(s.mac)) byMac.set(s.mac, node);
    }
  }
  return byMac;
}

/** Nodes known by their switch port only that no machine has been taken for yet, by their key (host:NAME). */
function unboundPortNodes(deps: ApiDeps, bound: Map<string, NodeConfig>): Map<string, NodeConfig> {
  const taken = new Set(bound.values());
  return new Map(deps.inventory().nodes.filter((n) => n.mac === undefined && !taken.has(n)).map((n) => [nodeKey(n), n]));
}

/** The node without a MAC a machine's last DHCP request was taken for. */
function portNodeOf(deps: ApiDeps, state: NodeState | undefined): NodeConfig | undefined {
  const key = state?.node;
  return key?.startsWith('host:') ? deps.inventory().nodes.find((n) => n.mac === undefined && nodeKey(n) === key) : undefined;
}

const HANDLERS: { readonly [K in OperationOn<'admin'>]: Handle } = {
  openapi: async () => openApiDocument(),
  listNodes: async ({ deps, query }) => {
    const byMac = nodesByMachine(deps);
    for (const [key, n] of unboundPortNodes(deps, byMac)) byMac.set(key, n);
    const { macs, next } = pageOfMacs(byMac.keys(), listPage(query));
    const page: NodePage = { nodes: macs.map((mac) => nodeSummary(mac, byMac.get(mac), deps.states.get(mac))), next };
    return page;
  },
  getNode: async ({ deps, params }) => {
    const ref = nodeRef(params);
    if (ref.startsWith('host:')) {
      const node = portNode(deps, ref);
      // The machine last taken for it, if any; otherwise the node is shown by its key.
      const state = machineOf(deps, node);
      return nodeDetail(state?.mac ?? nodeKey(node), node, state, state ? deps.failureReports?.get(state.mac) : undefined);
    }
    const mac = macParam(params);
    const state = deps.states.get(mac);
    const node = deps.inventory().nodes.find((n) => n.mac === mac) ?? portNodeOf(deps, state);
    const report = deps.failureReports?.get(mac);
    if (!node && !state && !report) throw new ApiError(404, `No node ${mac}`, 'List nodes with GET /api/v1/nodes and machines not in the inventory with GET /api/v1/discovered');
    return nodeDetail(mac, node, state, report);
  },
  getFailureReport: async ({ deps, params }) => {
    const mac = macParam(params);
    const report = deps.failureReports?.get(mac);
    if (!report) throw new ApiError(404, `No failure report from ${mac}`, 'A node sends one when a stage of its boot fails under rd.shell=0 (on_failure: reboot or poweroff in its profile); the report of a boot that opened a shell stays on the node in /run/initramfs/rdsosreport.txt');
    return failureReportView(report);
  },
  nodeEvents: async ({ deps, params, query }) => {
    const ref = nodeRef(params);
    if (!ref.startsWith('host:')) return eventsPage(deps, { ...eventQuery(query), mac: macParam(params) });
    // A node known by its port: the events of the machine last taken for it (none yet: none).
    const state = machineOf(deps, portNode(deps, ref));
    return state ? eventsPage(deps, { ...eventQuery(query), mac: state.mac }) : { events: [], lastSeq: deps.events.lastSeq } satisfies EventPage;
  },
  listProfiles: async ({ deps }) => {
    const inv = deps.inventory();
    const answer: ProfileList = {
      defaultProfile: inv.defaultProfile ?? null,
      profiles: [...inv.profiles.values()].map((p) => profileView(p, inv.nodes.filter((n) => n.profile === p.name).map((n) => n.mac ?? nodeKey(n)))),
    };
    return answer;
  },
  listServers: async ({ deps }) => {
    if (!deps.servers) throw new ApiError(503, 'The list of boot servers is not available', 'This server was started without its state backend');
    return deps.servers();
  },
  listImages: async ({ deps }) => {
    const images = await requireImages(deps).list();
    const running = runningNodes(deps);
    const answer: ImageList = {
      images: images.map((img) => imageView(img, (version) => running.filter((r) => r.image?.name === img.name && r.image.version === version).map((r) => r.mac))),
    };
    return answer;
  },
  listDiscovered: async ({ deps, query }) => {
    const known = new Set(nodesByMachine(deps).keys());
    // Sightings (DHCP, boot script fetches) and machines seen only in events.
    const recorded = new Map((deps.discovered?.() ?? []).filter((m) => !known.has(m.mac)).map((m) => [m.mac, m]));
    const seen = deps.states.all().filter((s) => !known.has(s.mac)).map((s) => s.mac);
    const { macs, next } = pageOfMacs([...recorded.keys(), ...seen], listPage(query));
    const discovered = macs.map((mac): DiscoveredMachine => {
      const sighting = recorded.get(mac);
      const summary = nodeSummary(mac, undefined, deps.states.get(mac));
      return sighting ? { ...summary, seen: sightingView(sighting) } : summary;
    });
    const page: DiscoveredPage = { discovered, next };
    return page;
  },
  listEvents: async ({ deps, query }) => {
    const node = query.get('node');
    return eventsPage(deps, { ...eventQuery(query), ...(node === null ? {} : { mac: eventsMac(deps, node) }) });
  },
  streamEvents: async ({ req, res, deps, query, streams }) => {
    const resume = req.headers['last-event-id'] ?? query.get('since') ?? undefined;
    const node = query.get('node');
    const afterSeq = resume === undefined ? undefined : seqValue(String(resume), 'Last-Event-ID');
    const mac = node === null ? undefined : eventsMac(deps, node);
    const release = streams.slots.take();
    if (!release) {
      streams.refused({ peer: req.socket.remoteAddress, open: streams.slots.open });
      throw new ApiError(503, `Too many event streams open (limit ${streams.slots.max})`, 'Close an idle dashboard tab or "diskless events --follow", or raise api.max_event_streams in the config', { 'retry-after': '10' });
    }
    res.once('close', release);
    await streamEvents(res, deps.events, {
      afterSeq,
      mac,
      heartbeatMs: deps.heartbeatMs ?? 15_000,
      ...deps.eventStreamLimits,
      onDrop: (why) => streams.dropped({ peer: req.socket.remoteAddress, why }),
    });
    return undefined;
  },
  addNode: async ({ deps, body, res }) => {
    const b = await body();
    const port = switchPortField(b);
    if (b['mac'] === undefined && !port) throw new ApiError(400, 'mac or switch_port is required', 'Send "mac": "52:54:00:12:34:56", or "switch_port": {"circuit_id": "…"} and a "hostname" for a node known by the port its DHCP relay reports');
    const node: NodeFields = { ...(b['mac'] !== undefined ? { mac: macValue(stringField(b, 'mac') ?? '') } : {}), ...(port ? { switchPort: port } : {}) };
    for (const k of NODE_KEYS) {
      const v = stringField(b, k);
      if (v !== undefined) node[k] = v;
    }
    await requireWrites(deps).addNode(node);
    sendJson(res, 201, { mac: node.mac ?? `host:${node.hostname ?? ''}` } satisfies NodeWritten);
    return undefined;
  },
  setNode: async ({ deps, params, body }) => {
    const ref = nodeRef(params);
    const key = ref.startsWith('host:') ? nodeKey(portNode(deps, ref)) : macParam(params);
    const b = await body();
    const settable: readonly string[] = [...NODE_KEYS, ...IDENTITY_KEYS];
    const unknown = Object.keys(b).filter((k) => !settable.includes(k));
    if (unknown.length) throw new ApiError(400, `Unknown field ${unknown.join(', ')}`, `Settable fields: ${settable.join(', ')} (null removes one)`);
    const changes: NodeFieldChanges & { mac?: string | null } = {};
    for (const k of NODE_KEYS) {
      if (b[k] === null) changes[k] = null;
      else if (b[k] !== undefined) changes[k] = stringField(b, k)!;
    }
    if (b['mac'] === null) changes.mac = null;
    else if (b['mac'] !== undefined) changes.mac = macValue(stringField(b, 'mac')!);
    if (b['switch_port'] === null) changes.switchPort = null;
    else if (b['switch_port'] !== undefined) changes.switchPort = switchPortField(b)!;
    await requireWrites(deps).setNode(key, changes);
    // The node's key after the change: a new MAC, or host:NAME once it has none.
    const hostname = typeof changes.hostname === 'string' ? changes.hostname : deps.inventory().nodes.find((n) => (n.mac ?? nodeKey(n)) === key)?.hostname;
    const after = typeof changes.mac === 'string' ? changes.mac : changes.mac === null || key.startsWith('host:') ? `host:${hostname ?? ''}` : key;
    return { mac: after } satisfies NodeWritten;
  },
  adoptDiscovered: async ({ deps, params, body, res }) => {
    const mac = macParam(params);
    if (deps.inventory().nodes.some((n) => n.mac === mac)) throw new ApiError(409, `${mac} is already in the inventory`, `Change it with POST /api/v1/nodes/${mac}`);
    if (!deps.states.get(mac) && !deps.discovered?.().some((m) => m.mac === mac)) throw new ApiError(404, `No discovered machine ${mac}`, 'GET /api/v1/discovered lists machines seen but not in the inventory');
    const b = await body();
    const node: NodeFields = { mac };
    for (const k of NODE_KEYS) {
      const v = stringField(b, k);
      if (v !== undefined) node[k] = v;
    }
    const writes = requireWrites(deps);
    await (writes.adoptNode ? writes.adoptNode(node) : writes.addNode(node));
    sendJson(res, 201, { mac } satisfies NodeWritten);
    return undefined;
  },
  publishImage: async ({ deps, params, body }) => {
    const b = await body();
    const version = stringField(b, 'version');
    if (!version) throw new ApiError(400, 'version is missing', 'Send {"version": "<16 hex digits>"}; GET /api/v1/images lists versions');
    const wait = b['waitSec'];
    if (wait !== undefined && (typeof wait !== 'number' || !Number.isInteger(wait) || wait < 0 || wait > 600)) {
      throw new ApiError(400, 'waitSec must be a whole number of seconds, 0 to 600', 'Send "waitSec": 60, or leave it out for the server\'s default');
    }
    const images = requireImages(deps);
    if (images.publishAndWait) {
      const r = await images.publishAndWait(params.name!, version, wait);
      return { name: params.name!, published: r.published, copies: r.copies } satisfies Published;
    }
    return { name: params.name!, published: await images.publish(params.name!, version) } satisfies Published;
  },
  listRollouts: async ({ deps }) => {
    const { current, history } = requireRollouts(deps).list();
    return { current, history: [...history] } satisfies RolloutList;
  },
  getRollout: async ({ deps, params }) => {
    const r = requireRollouts(deps).get(params.id!);
    if (!r) throw new ApiError(404, `No rollout ${params.id}`, 'GET /api/v1/rollouts lists them');
    return r satisfies Rollout;
  },
  startRollout: async ({ deps, body, res }) => {
    const r = await requireRollouts(deps).start(rolloutRequest(await body()));
    sendJson(res, 201, r satisfies Rollout);
    return undefined;
  },
  pauseRollout: async ({ deps, params }) => (await requireRollouts(deps).control(params.id!, 'pause')) satisfies Rollout,
  resumeRollout: async ({ deps, params }) => (await requireRollouts(deps).control(params.id!, 'resume')) satisfies Rollout,
  abortRollout: async ({ deps, params }) => (await requireRollouts(deps).control(params.id!, 'abort')) satisfies Rollout,
  listPins: async ({ deps, query }) => ({ pins: requireRollouts(deps).pins(query.get('image') ?? undefined) }) satisfies VersionPinList,
  unpin: async ({ deps, body }) => {
    const b = await body();
    const unknown = Object.keys(b).filter((k) => k !== 'nodes' && k !== 'image');
    if (unknown.length) throw new ApiError(400, `Unknown field ${unknown.join(', ')}`, 'Fields: nodes, image');
    const sel: { nodes?: string[]; image?: string } = {};
    if (b.nodes !== undefined) {
      if (!Array.isArray(b.nodes) || !b.nodes.every((n): n is string => typeof n === 'string')) throw new ApiError(400, 'nodes must be a list of host names or MACs', 'Send "nodes": ["n1", "52:54:00:12:34:56"]');
      sel.nodes = b.nodes;
    }
    const image = stringField(b, 'image');
    if (image !== undefined) sel.image = image;
    return { unpinned: await requireRollouts(deps).unpin(sel) } satisfies Unpinned;
  },
  rollbackImage: async ({ deps, params }) => ({ name: params.name!, published: await requireImages(deps).rollback(params.name!) }) satisfies Published,
};

/** Every endpoint declared on the admin listener, each with its handler. */
export const ROUTES: readonly Route[] = operationsOn('admin').map((id) => ({ id, ...ENDPOINTS[id], handle: HANDLERS[id] }));

/**
 * The admin listener's endpoints under /api/v1 as one HttpHandler. Paths it does not know are
 * left to the next handler; a known path with another method is 405.
 */
export function apiHandler(deps: ApiDeps): HttpHandler {
  const mayRead = cidrAllowList(deps.readCidrs);
  const limit = deps.maxBodyBytes ?? 64 * 1024;
  const log = (deps.logger ?? nullLogger).child({ service: 'api' });
  const streams: StreamContext = {
    slots: deps.eventStreams ?? new EventStreamSlots(),
    refused: throttledLog(log, 'warn', 'event stream refused: too many open'),
    dropped: throttledLog(log, 'warn', 'event stream dropped: client not reading'),
  };
  return async (req, res, path) => {
    if (!path.startsWith(API_PREFIX + '/')) return false;
    const sub = path.slice(API_PREFIX.length);
    const matches = ROUTES.map((r) => ({ r, params: matchPath(r.path, sub) })).filter((m) => m.params !== undefined);
    if (!matches.length) return false;
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const hit = matches.find((m) => m.r.method === method);
    try {
      if (!hit) throw new ApiError(405, `Method ${req.method} not allowed here`, `Use ${matches.map((m) => m.r.method).join(' or ')}`, { allow: matches.map((m) => m.r.method).join(', ') });
      authorize(hit.r, req, deps, mayRead);
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      const result = await hit.r.handle({ req, res, deps, query, streams, params: hit.params!, body: () => readJsonObject(req, limit) });
      if (result !== undefined) sendJson(res, 200, result);
    } catch (e) {
      if (res.headersSent) res.destroy();
      else if (sendError(res, e) >= 500) log.log('error', 'request failed', { method: req.method, path, error: e instanceof Error ? e.message : String(e) });
    }
    return true;
  };
}

function authorize(route: Route, req: IncomingMessage, deps: ApiDeps, mayRead: (ip: string | undefined) => boolean): void {
  if (route.access === 'read') {
    if (!mayRead(req.socket.remoteAddress)) throw new ApiError(403, 'Reads are not allowed from this address', 'Add the client network to the API read networks in the config');
    return;
  }
  const check = checkBearer(req.headers.authorization, deps.adminToken);
  if (check === 'missing') throw new ApiError(401, 'Missing admin token', 'Send Authorization: Bearer <admin token>', { 'www-authenticate': 'Bearer realm="diskless"' });
  if (check === 'wrong') throw new ApiError(403, 'Wrong admin token', deps.adminToken ? 'Use the admin token from the server state directory' : 'The server has no admin token configured; writes are disabled');
}

/** Who runs what: the server's record of versions handed out when it has one, else node states. */
function runningNodes(deps: ApiDeps): Array<{ mac: string; image: RunningImage | undefined }> {
  if (!deps.running) return deps.states.all().map((s) => ({ mac: s.mac, image: runningImage(s) }));
  const known = new Set(nodesByMachine(deps).keys());
  return [...deps.running()].filter(([mac]) => known.has(mac)).map(([mac, r]) => ({ mac, image: { name: r.image, version: r.version } }));
}

function eventsPage(deps: ApiDeps, q: EventQuery): EventPage {
  return { events: deps.events.query(q), lastSeq: deps.events.lastSeq };
}

function eventQuery(query: URLSearchParams): EventQuery {
  const q: EventQuery = {};
  const since = query.get('since');
  if (since !== null) {
    if (/^\d+$/.test(since)) q.afterSeq = Number(since);
    else if (!Number.isNaN(Date.parse(since))) q.sinceTime = Date.parse(since);
    else throw new ApiError(400, `Bad since ${JSON.stringify(since)}`, 'Use an event seq (events after it) or an ISO time, e.g. 2025-01-15T08:00:00Z');
  }
  const limit = query.get('limit');
  if (limit !== null) {
    if (!/^\d+$/.test(limit) || Number(limit) < 1) throw new ApiError(400, `Bad limit ${JSON.stringify(limit)}`, `Use a whole number from 1 to ${MAX_QUERY_LIMIT}`);
    q.limit = Number(limit);
  }
  return q;
}

function seqValue(s: string, what: string): number {
  if (!/^\d+$/.test(s.trim())) throw new ApiError(400, `Bad ${what} ${JSON.stringify(s)}`, 'Use the id of the last event received');
  return Number(s.trim());
}

/** The {mac} of a node path: a MAC, or host:NAME (a client may have percent-encoded the colon). */
function nodeRef(params: Record<string, string>): string {
  const raw = params.mac ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * The MAC whose events ?node= asks for: a MAC, or for host:NAME the machine last taken for that
 * node; none yet: the key itself, which no event carries (an empty list, a quiet stream).
 */
function eventsMac(deps: ApiDeps, node: string): string {
  if (!node.startsWith('host:')) return macValue(node);
  return machineOf(deps, portNode(deps, node))?.mac ?? node.toLowerCase();
}

/** The machine whose last DHCP request was taken for a node without a MAC, if any. */
function machineOf(deps: ApiDeps, node: NodeConfig): NodeState | undefined {
  return deps.states.all().filter((s) => s.node === nodeKey(node)).sort((a, b) => b.lastEvent.seq - a.lastEvent.seq)[0];
}

/** The inventory's node without a MAC whose key is `ref` (host:NAME), or a 404 naming the list. */
function portNode(deps: ApiDeps, ref: string): NodeConfig {
  const name = ref.slice('host:'.length).toLowerCase();
  const node = deps.inventory().nodes.find((n) => n.mac === undefined && n.hostname?.toLowerCase() === name);
  if (!node) throw new ApiError(404, `No node ${ref}`, 'host:NAME names a node known by its switch port only; GET /api/v1/nodes lists every node');
  return node;
}

/** `switch_port: {"circuit_id": "…", "remote_id": "…"}` of a request body (the config's form and rule). */
function switchPortField(b: Record<string, unknown>): { circuitId: string; remoteId?: string } | undefined {
  const v = b['switch_port'];
  if (v === undefined || v === null) return undefined;
  const hint = 'Send "switch_port": {"circuit_id": "Gi1/0/7"} (and "remote_id" when the relay sends one): text, or 0x and hex';
  if (typeof v !== 'object' || Array.isArray(v)) throw new ApiError(400, 'switch_port must be an object', hint);
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => k !== 'circuit_id' && k !== 'remote_id');
  if (extra.length) throw new ApiError(400, `Unknown switch_port field ${extra.join(', ')}`, hint);
  const circuit = typeof o['circuit_id'] === 'string' ? canonicalAgentId(o['circuit_id']) : undefined;
  if (circuit === undefined) throw new ApiError(400, `Bad switch_port.circuit_id ${JSON.stringify(o['circuit_id'])}`, hint);
  if (o['remote_id'] === undefined) return { circuitId: circuit };
  const remote = typeof o['remote_id'] === 'string' ? canonicalAgentId(o['remote_id']) : undefined;
  if (remote === undefined) throw new ApiError(400, `Bad switch_port.remote_id ${JSON.stringify(o['remote_id'])}`, hint);
  return { circuitId: circuit, remoteId: remote };
}

function macParam(params: Record<string, string>): string {
  return macValue(nodeRef(params));
}

function macValue(s: string): string {
  const mac = normalizeMac(s);
  if (!mac) throw new ApiError(400, `Not a MAC address: ${JSON.stringify(s)}`, 'Write it as 52:54:00:12:34:56 or 52-54-00-12-34-56');
  return mac;
}

function stringField(b: Record<string, unknown>, key: string): string | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ApiError(400, `${key} must be a string`, `Send "${key}": "…"`);
  return v;
}

function requireWrites(deps: ApiDeps) {
  if (!deps.writes) throw new ApiError(503, 'Inventory edits are not available', 'This server was started without an editable config file');
  return deps.writes;
}

function requireRollouts(deps: ApiDeps) {
  if (!deps.rollouts) throw new ApiError(503, 'Rollouts are not available', 'This server was started without a state directory for rollouts');
  return deps.rollouts;
}

const ROLLOUT_KEYS = ['image', 'version', 'nodes', 'profile', 'canary', 'batch', 'maxFailed', 'timeoutSec'];

/** The body of POST /rollouts; the runner checks the values. */
function rolloutRequest(b: Record<string, unknown>): RolloutRequest {
  const unknown = Object.keys(b).filter((k) => !ROLLOUT_KEYS.includes(k));
  if (unknown.length) throw new ApiError(400, `Unknown field ${unknown.join(', ')}`, `Fields: ${ROLLOUT_KEYS.join(', ')}`);
  const image = stringField(b, 'image');
  const version = stringField(b, 'version');
  if (!image || !version) throw new ApiError(400, 'image and version are required', 'Send {"image": "NAME", "version": "<16 hex digits>"}; GET /api/v1/images lists versions');
  const req: RolloutRequest = { image, version };
  if (b.nodes !== undefined) {
    if (!Array.isArray(b.nodes) || !b.nodes.every((n): n is string => typeof n === 'string')) throw new ApiError(400, 'nodes must be a list of host names or MACs', 'Send "nodes": ["n1", "52:54:00:12:34:56"]');
    req.nodes = b.nodes;
  }
  const profile = stringField(b, 'profile');
  if (profile !== undefined) req.profile = profile;
  for (const k of ['canary', 'maxFailed', 'timeoutSec'] as const) {
    const v = b[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new ApiError(400, `${k} must be a whole number`, `Send "${k}": 1`);
    req[k] = v;
  }
  if (b.batch !== undefined) req.batch = batchValue(b.batch);
  return req;
}

/** 5 → five nodes a batch; "25%" → a quarter of the rollout's nodes. */
export function batchValue(v: unknown): BatchSize {
  if (typeof v === 'number' && Number.isInteger(v)) return { count: v };
  if (typeof v === 'string') {
    const m = /^(\d{1,9})(%?)$/.exec(v.trim());
    if (m) return m[2] ? { percent: Number(m[1]) } : { count: Number(m[1]) };
  }
  throw new ApiError(400, `batch ${JSON.stringify(v)} is neither a number of nodes nor a percentage`, 'Send "batch": 5 or "batch": "25%"');
}

function requireImages(deps: ApiDeps) {
  if (!deps.images) throw new ApiError(503, 'The image store is not available', 'Start the server with a state directory holding images');
  return deps.images;
}
