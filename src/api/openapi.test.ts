import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTES } from './routes.js';
import { ENDPOINTS, OPERATION_IDS } from './endpoints.js';
import { SCHEMAS } from './openapi.js';
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from './paging.js';
import { auth, call, startApi, VERSION } from './testdata/api-fixture.js';
import { flatten, schemaProblems } from './testdata/json-schema.js';
import { BootScript } from '../events/testdata/boot-sequences.js';
import type * as Wire from './wire.js';

type Operation = { operationId: string; security: unknown[]; 'x-listener': string; 'x-access': string; parameters?: Array<{ name: string; in: string; schema: { minimum?: number; maximum?: number; default?: number } }>; responses: Record<string, any> };

async function documentOf(t: { after(fn: () => unknown): void }) {
  const { port } = await startApi(t);
  const r = await call(port, 'GET', '/api/v1/openapi.json');
  assert.equal(r.status, 200);
  return r.json;
}

function operations(doc: any): Array<[string, string, Operation]> {
  return Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) =>
    Object.entries(item).filter(([key]) => key !== 'servers').map(([method, op]): [string, string, Operation] => [method.toUpperCase(), path, op]));
}

test('the OpenAPI document lists exactly the declared endpoints: admin routes and the node endpoints, with listener and access', async (t) => {
  const doc = await documentOf(t);
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(doc.servers, [{ url: '/api/v1' }]);
  const documented = operations(doc).map(([method, path, op]) => `${method} ${path} ${op['x-access']} on ${op['x-listener']}`).sort();
  const declared = OPERATION_IDS.map((id) => `${ENDPOINTS[id].method} ${ENDPOINTS[id].path} ${ENDPOINTS[id].access} on ${ENDPOINTS[id].listener}`).sort();
  assert.deepEqual(documented, declared);
  assert.ok(declared.includes('POST /report node-report on boot') && declared.includes('POST /node-files boot-token on secrets'), 'the node endpoints are documented');
  // The admin API handles exactly the admin listener's endpoints.
  const handled = ROUTES.map((route) => `${route.method} ${route.path} ${route.access} on admin`).sort();
  assert.deepEqual(handled, declared.filter((d) => d.endsWith(' on admin')));
  for (const [method, path, op] of operations(doc)) {
    const e = ENDPOINTS[op.operationId as keyof typeof ENDPOINTS];
    assert.deepEqual([e.method, e.path], [method, path], op.operationId);
    // Only writes name the admin token; node endpoints say where they answer instead.
    assert.equal(op.security.length > 0, e.access === 'write', `${method} ${path} security`);
    assert.equal(doc.paths[path].servers === undefined, e.listener === 'admin', `${path} servers`);
    // Each operation documents exactly the query parameters its endpoint reads.
    assert.deepEqual((op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name).sort(), [...e.query].sort(), `${method} ${path}`);
    assert.deepEqual((op.parameters ?? []).filter((p) => p.in === 'path').map((p) => `{${p.name}}`), path.match(/\{\w+\}/g) ?? [], `${method} ${path} path parameters`);
  }
  // Lists are paged, with the limits the API enforces.
  for (const path of ['/nodes', '/discovered']) {
    const limit = doc.paths[path].get.parameters.find((p: { name: string }) => p.name === 'limit');
    assert.deepEqual([limit.schema.minimum, limit.schema.maximum, limit.schema.default], [1, MAX_LIST_LIMIT, DEFAULT_LIST_LIMIT], path);
  }
  // Every $ref resolves.
  for (const [, name] of JSON.stringify(doc).matchAll(/"#\/components\/schemas\/(\w+)"/g)) assert.ok(doc.components.schemas[name!], name);
});

/** For each property of T: may it be left out? The compiler holds these lists to wire.ts. */
type Presence<T> = { readonly [K in keyof T]-?: {} extends Pick<T, K> ? 'optional' : 'required' };
const R = 'required';
const O = 'optional';
const summary: Presence<Wire.NodeSummary> = {
  mac: R, known: R, hostname: O, address: O, profile: O, status: R, stage: R, cause: R, ip: R, bootCount: R, bootStartedAt: R, booted: R, running: R, lastEvent: R, relayAgent: R,
};
const WIRE_TYPES: { readonly [Name in keyof typeof SCHEMAS]: Record<string, 'required' | 'optional'> } = {
  Error: { error: R, code: O, hint: R } satisfies Presence<Wire.ApiErrorBody>,
  Event: { seq: R, time: R, mac: O, ip: O, kind: R, name: R, detail: R, durationMs: O, bytes: O, fields: R } satisfies Presence<Wire.BootEvent>,
  EventPage: { events: R, lastSeq: R } satisfies Presence<Wire.EventPage>,
  EventRef: { seq: R, time: R, kind: R, name: R, detail: R } satisfies Presence<Wire.EventRef>,
  RunningImage: { name: O, version: O } satisfies Presence<Wire.RunningImage>,
  NodeSummary: summary,
  TimelineEntry: { name: R, status: R, start: O, end: O, durationMs: O, detail: R } satisfies Presence<Wire.TimelineEntry>,
  NodeDetail: { ...summary, cmdline: O, loader: O, image: R, failure: R, timeline: R, failureReport: R } satisfies Presence<Wire.NodeDetail>,
  FailureReportSummary: { at: R, stage: R, cause: R, bytes: R, truncated: R } satisfies Presence<Wire.FailureReportSummary>,
  FailureReport: { at: R, stage: R, cause: R, bytes: R, truncated: R, mac: R, text: R } satisfies Presence<Wire.FailureReport>,
  Sighting: { firstSeen: R, lastSeen: R, count: R, vendorClass: R, arch: R, userClass: R, lastIp: R } satisfies Presence<Wire.Sighting>,
  DiscoveredMachine: { ...summary, seen: O } satisfies Presence<Wire.DiscoveredMachine>,
  NodePage: { nodes: R, next: R } satisfies Presence<Wire.NodePage>,
  DiscoveredPage: { discovered: R, next: R } satisfies Presence<Wire.DiscoveredPage>,
  ProfileRoot: { mode: R, image: O, dir: O, copy: R, overlay: R, retry: R } satisfies Presence<Wire.ProfileRoot>,
  Profile: { name: R, image: R, kernel: R, initrds: R, cmdline: R, loader: R, secureBoot: R, root: R, nodes: R } satisfies Presence<Wire.Profile>,
  ProfileList: { defaultProfile: R, profiles: R } satisfies Presence<Wire.ProfileList>,
  StoredImageVersion: { version: R, created: R, kernelVersion: R, size: R, sha256: R, parent: R, published: R, nodes: R } satisfies Presence<Wire.StoredImageVersion>,
  StoredImage: { name: R, published: R, publishedAt: R, previous: R, versions: R } satisfies Presence<Wire.StoredImage>,
  ImageList: { images: R } satisfies Presence<Wire.ImageList>,
  NodeWritten: { mac: R } satisfies Presence<Wire.NodeWritten>,
  Published: { name: R, published: R, copies: O } satisfies Presence<Wire.Published>,
  ImageCopy: { server: R, state: R, reason: O } satisfies Presence<Wire.ImageCopy>,
  RolloutSpec: { image: R, version: R, canary: R, batch: R, maxFailed: R, timeoutSec: R } satisfies Presence<Wire.RolloutSpec>,
  RolloutNode: { mac: R, name: R, wave: R, previousPin: R, previousVersion: R, status: R, afterSeq: O, deadline: O, failure: O, rollbackFailure: O } satisfies Presence<Wire.RolloutNode>,
  Rollout: { id: R, spec: R, wholeImage: R, createdAt: R, status: R, wave: R, waves: R, nodes: R, message: O, endedAt: O } satisfies Presence<Wire.Rollout>,
  RolloutList: { current: R, history: R } satisfies Presence<Wire.RolloutList>,
  VersionPinRow: { mac: R, node: O, image: R, version: R, since: R, by: R } satisfies Presence<Wire.VersionPinRow>,
  VersionPinList: { pins: R } satisfies Presence<Wire.VersionPinList>,
  Unpinned: { unpinned: R } satisfies Presence<Wire.Unpinned>,
  BootServer: { address: R, name: R, bootUrl: R, health: R, self: R, startedAt: R, heartbeatAt: R, nodes: R } satisfies Presence<Wire.BootServer>,
  ServerList: { state: R, servers: R } satisfies Presence<Wire.ServerList>,
};

test('each schema names exactly the properties of its wire type, required where the type requires them', async (t) => {
  const doc = await documentOf(t);
  assert.deepEqual(Object.keys(doc.components.schemas).sort(), Object.keys(WIRE_TYPES).sort());
  for (const [name, presence] of Object.entries(WIRE_TYPES)) {
    const schema = flatten(doc.components.schemas[name], doc);
    assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(presence).sort(), `${name} properties`);
    assert.deepEqual([...(schema.required ?? [])].sort(), Object.keys(presence).filter((k) => presence[k] === R).sort(), `${name} required`);
  }
});

const N1 = '52:54:00:00:00:01';
const N2 = '52:54:00:00:00:02';
const STRANGER = '52:54:00:00:00:99';

test('what the API answers matches its document, property by property', async (t) => {
  const sighting = { mac: '02:00:00:00:00:07', firstSeen: '2025-01-15T08:00:00Z', lastSeen: '2025-01-15T08:01:00Z', count: 2, arch: 'EfiX64' };
  const servers = (): Wire.ServerList => ({ state: 'postgres', servers: [
    { address: '10.77.0.1', name: 'boot1', bootUrl: 'http://10.77.0.1:8080', health: 'live', self: true, startedAt: '2025-01-15T08:00:00.000Z', heartbeatAt: '2025-01-15T08:01:00.000Z', nodes: [N2] },
    { address: '10.77.0.2', name: 'boot2', bootUrl: 'http://10.77.0.2:8080', health: 'gone', self: false, startedAt: '2025-01-15T08:00:00.000Z', heartbeatAt: '2025-01-15T08:00:10.000Z', nodes: [] },
  ] });
  const { port, obs, nodes } = await startApi(t, { discovered: () => [sighting], servers });
  nodes.push({ mac: N2, profile: 'lab', address: '10.77.0.52' });
  // n1 failed in its root stage; n2 booted the published version; a stranger only asked DHCP.
  const failed = new BootScript(N1, '10.77.0.51').at(0).firmwareToKernel().at(4100).report('network', 'ok', 'duration_ms=1500', 2300).at(7400).report('root', 'failed', 'sha256 mismatch', 5600);
  const booted = new BootScript(N2, '10.77.0.52').at(0).firmwareToKernel().at(9000).report('booted', 'ok', '', 9000, { version: VERSION });
  for (const { seq: _seq, ...e } of [...failed.events, ...booted.events]) obs.record(e);
  obs.record({ time: 1, mac: STRANGER, kind: 'dhcp', name: 'discover', detail: '', fields: { xid: '0x9' } });

  const doc = await call(port, 'GET', '/api/v1/openapi.json');
  const answers: Array<[string, string, string, { body?: string; headers?: Record<string, string> }?]> = [
    ['GET', '/nodes', '/api/v1/nodes'],
    ['GET', '/nodes/{mac}', `/api/v1/nodes/${N1}`],
    ['GET', '/nodes/{mac}', `/api/v1/nodes/${N2}`],
    ['GET', '/nodes/{mac}/events', `/api/v1/nodes/${N1}/events`],
    ['GET', '/events', '/api/v1/events?limit=1000'],
    ['GET', '/profiles', '/api/v1/profiles'],
    ['GET', '/images', '/api/v1/images'],
    ['GET', '/discovered', '/api/v1/discovered'],
    ['GET', '/servers', '/api/v1/servers'],
    ['POST', '/nodes/{mac}', `/api/v1/nodes/${N1}`, { body: JSON.stringify({ hostname: 'n1b' }), headers: auth }],
    ['POST', '/discovered/{mac}/adopt', `/api/v1/discovered/${STRANGER}/adopt`, { body: JSON.stringify({ hostname: 'n99' }), headers: auth }],
    ['POST', '/images/{name}/publish', '/api/v1/images/debian/publish', { body: JSON.stringify({ version: VERSION }), headers: auth }],
    ['GET', '/nodes/{mac}', '/api/v1/nodes/nope'],
  ];
  for (const [method, path, url, opts] of answers) {
    const r = await call(port, method, url, opts);
    const response = doc.json.paths[path][method.toLowerCase()].responses[String(r.status)];
    assert.ok(response, `${method} ${url}: status ${r.status} is documented`);
    const schema = response.content['application/json'].schema;
    assert.deepEqual(schemaProblems(r.json, schema, doc.json), [], `${method} ${url} (${r.status})`);
  }
  // The answers above carried the fields that are often null or absent, so their types were checked too.
  const n1 = (await call(port, 'GET', `/api/v1/nodes/${N1}`)).json;
  const n2 = (await call(port, 'GET', `/api/v1/nodes/${N2}`)).json;
  assert.ok(n1.failure && n1.image && n1.lastEvent && n1.timeline.length, JSON.stringify(n1));
  assert.ok(n2.booted && n2.running, JSON.stringify(n2));
  const discovered = (await call(port, 'GET', '/api/v1/discovered')).json.discovered;
  assert.ok(discovered.some((m: { seen?: unknown }) => m.seen), 'a sighting');
});

test('the checker finds what differs from the document', async (t) => {
  const doc = await documentOf(t);
  const node = { $ref: '#/components/schemas/NodeSummary' };
  const good = { mac: N1, known: false, status: 'offline', stage: null, cause: null, ip: null, bootCount: 0, bootStartedAt: null, booted: null, running: null, lastEvent: null, relayAgent: null };
  assert.deepEqual(schemaProblems(good, node, doc), []);
  assert.deepEqual(schemaProblems({ ...good, extra: 1 }, node, doc), ['$: extra is not in the schema']);
  assert.deepEqual(schemaProblems({ ...good, bootCount: '0' }, node, doc), ['$.bootCount: string, not integer']);
  assert.deepEqual(schemaProblems({ ...good, status: 'asleep' }, node, doc), ['$.status: "asleep" is not one of ["offline","discovered","dhcp","loading","initramfs","booted","failed"]']);
  const { lastEvent: _, ...missing } = good;
  assert.deepEqual(schemaProblems(missing, node, doc), ['$: lastEvent is missing']);
});
