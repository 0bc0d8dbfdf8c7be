/**
 * The OpenAPI 3.1 description of /api/v1, generated from the endpoint declaration
 * (endpoints.ts): every path, method, query parameter, listener and access rule comes from
 * there; this file adds what only people and client generators read: bodies, answers and the
 * schemas of the JSON in wire.ts. openapi.test.ts holds the document to both.
 */
import { MAX_QUERY_LIMIT } from '../events/event-store.js';
import { BOOT_EVENT_KINDS } from '../events/boot-event.js';
import { API_PREFIX, ENDPOINTS, OPERATION_IDS, type Listener, type OperationId, type QueryOf } from './endpoints.js';
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from './paging.js';
import { DISKLESS_ERROR_CODES } from '../errors/diskless-error.js';

type Schema = Record<string, unknown>;
type Parameter = { name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema: Schema; description?: string };
type ParameterDoc = Omit<Parameter, 'name' | 'in'>;

/** What the declaration does not say about an operation; `query` documents exactly the declared names. */
type OperationDoc<K extends OperationId> = {
  description?: string;
  headers?: Parameter[];
  requestBody?: object;
  responses: Record<string, object>;
} & ([QueryOf<K>] extends [never] ? { query?: never } : { query: { readonly [N in QueryOf<K>]: ParameterDoc } });

const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const ref = (name: keyof typeof SCHEMAS) => ({ $ref: `#/components/schemas/${name}` });
const jsonAnswer = (description: string, schema: object) => ({ description, ...json(schema) });
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), jsonAnswer(ERROR_TEXT[c] ?? 'Error', ref('Error'))]));
const ERROR_TEXT: Record<number, string> = {
  400: 'Bad request', 401: 'No admin token', 403: 'Not allowed (address or token)', 404: 'Not found', 409: 'Conflict', 413: 'Body too large', 503: 'Not available on this server, or too many event streams open',
};
/** The node endpoints answer busybox wget: one line of plain text, also for refusals. */
const text = (description: string) => ({ description, content: { 'text/plain': { schema: { type: 'string' } } } });
const form = (schema: object) => ({ required: true, content: { 'application/x-www-form-urlencoded': { schema } } });

const PATH_PARAMETERS: Readonly<Record<string, ParameterDoc>> = {
  mac: { required: true, schema: { type: 'string', examples: ['52:54:00:12:34:56', 'host:r2n7'] }, description: 'The machine\'s MAC or, for a node known by its switch port only, host:HOSTNAME' },
  name: { required: true, schema: { type: 'string' } },
  id: { required: true, schema: { type: 'string', examples: ['20260101-120000-ab12'] } },
};
const since: ParameterDoc = { schema: { type: 'string' }, description: 'An event seq (events after it, oldest first) or an ISO time; without it the newest events' };
const limit: ParameterDoc = { schema: { type: 'integer', minimum: 1, maximum: MAX_QUERY_LIMIT, default: 100 } };
const node: ParameterDoc = { schema: { type: 'string' }, description: 'Only this MAC' };
const listLimit: ParameterDoc = { schema: { type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT, default: DEFAULT_LIST_LIMIT }, description: 'Machines per page' };
const after: ParameterDoc = { schema: { type: 'string' }, description: 'The "next" of the previous page: machines whose MAC sorts after it' };
const nodeFields = Object.fromEntries(['hostname', 'address', 'profile', 'cmdline', 'loader'].map((k) => [k, { type: ['string', 'null'] }]));
const switchPort = {
  type: ['object', 'null'],
  properties: { circuit_id: { type: 'string' }, remote_id: { type: 'string' } },
  required: ['circuit_id'],
  additionalProperties: false,
  description: 'The port the node\'s DHCP relay reports (option 82): text, or 0x and hex',
};
const nodeBody = { type: 'object', properties: { ...nodeFields, mac: { type: ['string', 'null'] }, switch_port: switchPort }, additionalProperties: false };
const nullable = (schema: Schema) => ({ oneOf: [schema, { type: 'null' }] });

const OPERATIONS: { readonly [K in OperationId]: OperationDoc<K> } = {
  openapi: { responses: { 200: jsonAnswer('This document', { type: 'object' }), ...errors(403) } },
  listNodes: { query: { limit: listLimit, after }, responses: { 200: jsonAnswer('A page of nodes', ref('NodePage')), ...errors(400, 403) } },
  addNode: {
    requestBody: { required: true, ...json({ ...nodeBody, properties: { ...nodeBody.properties, mac: { type: 'string' } }, description: 'mac, or switch_port and hostname' }) },
    responses: { 201: jsonAnswer('Added', ref('NodeWritten')), ...errors(400, 401, 403, 413, 503) },
  },
  getNode: { responses: { 200: jsonAnswer('The node', ref('NodeDetail')), ...errors(400, 403, 404) } },
  setNode: { requestBody: { required: true, ...json(nodeBody) }, responses: { 200: jsonAnswer('Changed', ref('NodeWritten')), ...errors(400, 401, 403, 404, 413, 503) } },
  getFailureReport: {
    description: 'The report /init uploads before it reboots when a stage of its boot failed under rd.shell=0 (on_failure: reboot or poweroff): the stage, the cause, its log, network, modules, mounts and kernel messages. One per machine, the last one; any one-time token on its command line is removed.',
    responses: { 200: jsonAnswer('The report', ref('FailureReport')), ...errors(400, 403, 404) },
  },
  nodeEvents: { query: { since, limit }, responses: { 200: jsonAnswer('Events', ref('EventPage')), ...errors(400, 403) } },
  listProfiles: { responses: { 200: jsonAnswer('Profiles', ref('ProfileList')), ...errors(403) } },
  listServers: { responses: { 200: jsonAnswer('Boot servers', ref('ServerList')), ...errors(403, 503) } },
  listImages: { responses: { 200: jsonAnswer('Images', ref('ImageList')), ...errors(403, 503) } },
  publishImage: {
    description: 'With a state database, waits (waitSec, default 120) until every live boot server holds the version or failed to fetch it, and answers each one\'s copy: present, failed or absent, with the reason.',
    requestBody: { required: true, ...json({ type: 'object', properties: { version: { type: 'string', pattern: '^[0-9a-f]{16}$' }, waitSec: { type: 'integer', minimum: 0, maximum: 600 } }, required: ['version'] }) },
    responses: { 200: jsonAnswer('Published', ref('Published')), ...errors(400, 401, 403, 404, 413, 503) },
  },
  rollbackImage: { responses: { 200: jsonAnswer('Rolled back', ref('Published')), ...errors(400, 401, 403, 404, 503) } },
  listDiscovered: { query: { limit: listLimit, after }, responses: { 200: jsonAnswer('A page of machines', ref('DiscoveredPage')), ...errors(400, 403) } },
  adoptDiscovered: {
    requestBody: { required: false, ...json(nodeBody) },
    responses: { 201: jsonAnswer('Adopted', ref('NodeWritten')), ...errors(400, 401, 403, 404, 409, 413, 503) },
  },
  listRollouts: { responses: { 200: jsonAnswer('Rollouts', ref('RolloutList')), ...errors(403, 503) } },
  startRollout: {
    description: 'Pins the version to the canaries (the first nodes), reboots them (a power cycle through the BMC of nodes with power:, else waits for them to reboot) and watches their boots; once every node of a batch booted the version, the next batch moves. A node whose boot fails (a failed stage, a failure report, a boot of another version, a BMC that refuses, or no "booted" within timeoutSec) is pinned back to the version it ran and rebooted into it. A failed canary, or more than maxFailed failures, stops the rollout. When every node of the image moved without a failure, the version is published and the pins dropped. One rollout at a time (409 while one can still change).',
    requestBody: {
      required: true,
      ...json({
        type: 'object',
        properties: {
          image: { type: 'string' },
          version: { type: 'string', pattern: '^[0-9a-f]{16}$' },
          nodes: { type: 'array', items: { type: 'string' }, description: 'Host names or MACs; without nodes and profile, every node whose profile boots the image' },
          profile: { type: 'string' },
          canary: { type: 'integer', minimum: 0, default: 1 },
          batch: { oneOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^[0-9]+%?$' }], default: '10%', description: 'Nodes per batch after the canaries, or a percentage of the rollout\'s nodes' },
          maxFailed: { type: 'integer', minimum: 0, default: 0 },
          timeoutSec: { type: 'integer', minimum: 10, default: 600 },
        },
        required: ['image', 'version'],
        additionalProperties: false,
      }),
    },
    responses: { 201: jsonAnswer('Started', ref('Rollout')), ...errors(400, 401, 403, 404, 409, 413, 503) },
  },
  getRollout: { responses: { 200: jsonAnswer('The rollout', ref('Rollout')), ...errors(403, 404, 503) } },
  pauseRollout: { responses: { 200: jsonAnswer('Paused', ref('Rollout')), ...errors(401, 403, 404, 409, 503) } },
  resumeRollout: { responses: { 200: jsonAnswer('Resumed', ref('Rollout')), ...errors(401, 403, 404, 409, 503) } },
  abortRollout: { responses: { 200: jsonAnswer('Aborted', ref('Rollout')), ...errors(401, 403, 404, 409, 503) } },
  listPins: { query: { image: { schema: { type: 'string' }, description: 'Only the pins of this image' } }, responses: { 200: jsonAnswer('Version pins', ref('VersionPinList')), ...errors(403, 503) } },
  unpin: {
    description: 'Give nodes (host names or MACs; a node no longer in the inventory by its MAC), image, or both (the named nodes\' pins of that image). Neither is refused (400): nothing unpins every node. A node a rollout is still watching keeps its pin (409).',
    requestBody: { required: true, ...json({ type: 'object', properties: { nodes: { type: 'array', items: { type: 'string' } }, image: { type: 'string' } }, additionalProperties: false }) },
    responses: { 200: jsonAnswer('The pins dropped', ref('Unpinned')), ...errors(400, 401, 403, 404, 409, 503) },
  },
  listEvents: { query: { node, since, limit }, responses: { 200: jsonAnswer('Events', ref('EventPage')), ...errors(400, 403) } },
  streamEvents: {
    query: { node, since: { schema: { type: 'integer' } } },
    headers: [{ name: 'Last-Event-ID', in: 'header', schema: { type: 'integer' } }],
    responses: { 200: { description: 'An endless event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors(400, 403, 503) },
  },
  report: {
    description: 'Sent with busybox wget --post-data. Fields other than these four that are short lower-case words are kept with the event (e.g. uptime_ms, version); detail may be key=value pairs such as duration_ms=812. Refused: a MAC the server does not know, a request with browser headers (Origin, Referer, Sec-Fetch-*), a body that is not a form.',
    requestBody: form({
      type: 'object',
      properties: {
        mac: { type: 'string' },
        stage: { type: 'string', pattern: '^[a-z_]{1,32}$' },
        status: { type: 'string', pattern: '^[a-z_]{1,32}$' },
        detail: { type: 'string', maxLength: 1024 },
      },
      required: ['mac', 'stage', 'status'],
      additionalProperties: { type: 'string', maxLength: 256 },
    }),
    responses: {
      200: text('Recorded ("ok")'),
      400: text('Not a MAC, or stage or status not a short lower-case word'),
      403: text('An unknown MAC, or sent by a web browser'),
      405: text('Not a POST'),
      413: text('Body over 4096 bytes'),
      415: text('Not application/x-www-form-urlencoded'),
    },
  },
  failureReport: {
    description: 'Sent with busybox wget --post-file by /init when a stage failed and rd.shell=0 says nobody is at the console, before it reboots. The same refusals as /report. The text is kept as the machine\'s last failure report (at most 64 KiB, control characters replaced, one-time tokens removed).',
    requestBody: form({
      type: 'object',
      properties: {
        mac: { type: 'string' },
        stage: { type: 'string', pattern: '^[a-z_]{1,32}$' },
        cause: { type: 'string' },
        report: { type: 'string', description: 'The text of /run/initramfs/rdsosreport.txt' },
      },
      required: ['mac', 'stage'],
    }),
    responses: {
      200: text('Kept ("ok")'),
      400: text('Not a MAC, or stage not a short lower-case word'),
      403: text('An unknown MAC, or sent by a web browser'),
      405: text('Not a POST'),
      413: text('Body over 160 KiB'),
      415: text('Not application/x-www-form-urlencoded'),
    },
  },
  nodeFiles: {
    description: "The token works once, from the address it was issued to, by the machine the server's neighbour table says holds that address, within token_ttl and while the node boots. Any refusal outside a boot is logged as an alert. The boot listener answers this path with 403 and this listener's URL.",
    requestBody: form({ type: 'object', properties: { token: { type: 'string' }, mac: { type: 'string', description: 'Informative only: the neighbour table names the machine' } }, required: ['token'] }),
    responses: {
      200: { description: "The node's files", content: { 'application/x-cpio': { schema: { type: 'string', contentMediaType: 'application/x-cpio' } } } },
      400: text('No client address'),
      403: text('Token refused (unknown, expired, used, from another address or machine, or outside a boot)'),
      404: text('The token names a node no longer in the inventory'),
      405: text('Not a POST'),
      413: text('Body over 1024 bytes'),
      500: text('The files could not be assembled'),
    },
  },
};

/** The node endpoints answer on other listeners, at the address and ports the config sets. */
const SERVERS: Readonly<Record<Exclude<Listener, 'admin'>, object[]>> = {
  boot: [{ url: `http://{address}:{port}${API_PREFIX}`, description: 'The boot listener (plain HTTP)', variables: { address: { default: 'server.address', description: 'server.address in the config' }, port: { default: '80', description: 'server.http_port' } } }],
  secrets: [{ url: `https://{address}:{port}${API_PREFIX}`, description: 'The secrets listener (HTTPS with the server certificate)', variables: { address: { default: 'server.address', description: 'server.address in the config' }, port: { default: '443', description: 'server.https_port' } } }],
};

const SECURITY: Readonly<Record<string, object[]>> = { write: [{ adminToken: [] }] };

function operation<K extends OperationId>(id: K): object {
  const e = ENDPOINTS[id];
  const doc: OperationDoc<K> = OPERATIONS[id];
  const queryDocs = (doc.query ?? {}) as Readonly<Record<string, ParameterDoc>>;
  const parameters: Parameter[] = [
    ...[...e.path.matchAll(/\{(\w+)\}/g)].map(([, name]): Parameter => ({ name: name!, in: 'path', ...PATH_PARAMETERS[name!]! })),
    ...e.query.map((name): Parameter => ({ name, in: 'query', ...queryDocs[name]! })),
    ...(doc.headers ?? []),
  ];
  return {
    operationId: id,
    summary: e.summary,
    ...(doc.description === undefined ? {} : { description: doc.description }),
    'x-listener': e.listener,
    'x-caller': e.caller,
    'x-access': e.access,
    security: SECURITY[e.access] ?? [],
    ...(parameters.length ? { parameters } : {}),
    ...(doc.requestBody === undefined ? {} : { requestBody: doc.requestBody }),
    responses: doc.responses,
  };
}

export function openApiDocument(): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const id of OPERATION_IDS) {
    const { path, method, listener } = ENDPOINTS[id];
    const item = (paths[path] ??= listener === 'admin' ? {} : { servers: SERVERS[listener] });
    item[method.toLowerCase()] = operation(id);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Diskless API',
      version: '1',
      description:
        'Nodes, their boots and images. Reads are allowed from the configured networks; writes need Authorization: Bearer <admin token>. ' +
        'Two endpoints are for the booting nodes and answer on other listeners (each operation names its own in x-listener, who may call it in x-access): ' +
        'POST /report and POST /failure-report on the boot listener and POST /node-files on the secrets listener.',
    },
    servers: [{ url: API_PREFIX }],
    paths,
    components: { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' } }, schemas: SCHEMAS },
  };
}

const string = { type: 'string' };
const integer = { type: 'integer' };
const strings = { type: 'array', items: string };
const nullableString = { type: ['string', 'null'] };
const imageVersionRef = { type: 'object', properties: { name: string, version: string }, required: ['name', 'version'] };

/** The schemas of wire.ts, one per type of the same name (Event is wire.ts's BootEvent). */
export const SCHEMAS = {
  Error: {
    type: 'object',
    properties: {
      error: string,
      code: {
        enum: Object.keys(DISKLESS_ERROR_CODES),
        description: `Stable. Present when the inventory, the image store or another part behind the API refused; refusals of the API itself (access, method, body, query) have none. ${Object.entries(DISKLESS_ERROR_CODES).map(([c, meaning]) => `${c}: ${meaning}`).join('; ')}`,
      },
      hint: string,
    },
    required: ['error', 'hint'],
  },
  Event: {
    type: 'object',
    properties: {
      seq: integer, time: { type: 'integer', description: 'ms since the epoch' }, mac: string, ip: string,
      kind: { enum: BOOT_EVENT_KINDS }, name: string, detail: string,
      durationMs: { type: 'number' }, bytes: { type: 'number' }, fields: { type: 'object', additionalProperties: string },
    },
    required: ['seq', 'time', 'kind', 'name', 'detail', 'fields'],
  },
  EventPage: { type: 'object', properties: { events: { type: 'array', items: { $ref: '#/components/schemas/Event' } }, lastSeq: integer }, required: ['events', 'lastSeq'] },
  EventRef: {
    type: 'object',
    properties: { seq: integer, time: integer, kind: { enum: BOOT_EVENT_KINDS }, name: string, detail: string },
    required: ['seq', 'time', 'kind', 'name', 'detail'],
  },
  RunningImage: { type: 'object', properties: { name: string, version: string } },
  NodeSummary: {
    type: 'object',
    properties: {
      mac: string, known: { type: 'boolean' },
      hostname: { ...nullableString, description: 'Inventory nodes only, like address and profile' }, address: nullableString, profile: string,
      status: { enum: ['offline', 'discovered', 'dhcp', 'loading', 'initramfs', 'booted', 'failed'] },
      stage: nullableString, cause: nullableString, ip: nullableString, bootCount: integer, bootStartedAt: { type: ['integer', 'null'] },
      booted: nullable({ type: 'object', properties: { image: string, version: string, at: integer }, required: ['at'] }),
      running: nullable({ $ref: '#/components/schemas/RunningImage' }),
      lastEvent: nullable({ $ref: '#/components/schemas/EventRef' }),
      relayAgent: nullable({
        type: 'object',
        description: 'Option 82 of its last relayed DHCP request: the switch port (circuit id, remote id) and whether the server trusted the relay to name it',
        properties: { circuitId: string, remoteId: string, trusted: { type: 'boolean' } },
        required: ['trusted'],
      }),
    },
    required: ['mac', 'known', 'status', 'stage', 'cause', 'ip', 'bootCount', 'bootStartedAt', 'booted', 'running', 'lastEvent', 'relayAgent'],
  },
  TimelineEntry: {
    type: 'object',
    properties: { name: string, status: { enum: ['running', 'ok', 'retry', 'failed'] }, start: integer, end: integer, durationMs: { type: 'number' }, detail: string },
    required: ['name', 'status', 'detail'],
  },
  NodeDetail: {
    allOf: [{ $ref: '#/components/schemas/NodeSummary' }, {
      type: 'object',
      properties: {
        cmdline: nullableString, loader: { enum: ['ipxe', 'pxelinux', 'grub', null] },
        image: nullable(imageVersionRef),
        failure: nullable({ type: 'object', properties: { stage: string, cause: string }, required: ['stage', 'cause'] }),
        timeline: { type: 'array', items: { $ref: '#/components/schemas/TimelineEntry' } },
        failureReport: nullable({ $ref: '#/components/schemas/FailureReportSummary' }),
      },
      required: ['image', 'failure', 'timeline', 'failureReport'],
    }],
  },
  FailureReportSummary: {
    type: 'object',
    properties: { at: string, stage: string, cause: string, bytes: integer, truncated: { type: 'boolean' } },
    required: ['at', 'stage', 'cause', 'bytes', 'truncated'],
  },
  FailureReport: {
    allOf: [{ $ref: '#/components/schemas/FailureReportSummary' }, { type: 'object', properties: { mac: string, text: string }, required: ['mac', 'text'] }],
  },
  Sighting: {
    type: 'object',
    properties: { firstSeen: string, lastSeen: string, count: integer, vendorClass: nullableString, arch: nullableString, userClass: nullableString, lastIp: nullableString },
    required: ['firstSeen', 'lastSeen', 'count', 'vendorClass', 'arch', 'userClass', 'lastIp'],
  },
  DiscoveredMachine: { allOf: [{ $ref: '#/components/schemas/NodeSummary' }, { type: 'object', properties: { seen: { $ref: '#/components/schemas/Sighting' } } }] },
  NodePage: { type: 'object', properties: { nodes: { type: 'array', items: { $ref: '#/components/schemas/NodeSummary' } }, next: nullableString }, required: ['nodes', 'next'] },
  DiscoveredPage: { type: 'object', properties: { discovered: { type: 'array', items: { $ref: '#/components/schemas/DiscoveredMachine' } }, next: nullableString }, required: ['discovered', 'next'] },
  ProfileRoot: {
    type: 'object',
    properties: { mode: { enum: ['live', 'nbd', 'nfs'] }, image: string, dir: string, copy: { type: 'boolean' }, overlay: { enum: ['tmpfs', 'none'] }, retry: integer },
    required: ['mode', 'copy', 'overlay', 'retry'],
  },
  Profile: {
    type: 'object',
    properties: {
      name: string, image: nullableString, kernel: string, initrds: strings, cmdline: string, loader: { enum: ['ipxe', 'pxelinux', 'grub'] },
      secureBoot: { type: 'boolean' }, root: nullable({ $ref: '#/components/schemas/ProfileRoot' }), nodes: strings,
    },
    required: ['name', 'image', 'kernel', 'initrds', 'cmdline', 'loader', 'secureBoot', 'root', 'nodes'],
  },
  BootServer: {
    type: 'object',
    properties: {
      address: { type: 'string' }, name: { type: 'string' }, bootUrl: { type: 'string' }, health: { type: 'string', enum: ['live', 'gone'] }, self: { type: 'boolean' },
      startedAt: nullableString, heartbeatAt: nullableString, nodes: { type: 'array', items: { type: 'string' } },
    },
    required: ['address', 'name', 'bootUrl', 'health', 'self', 'startedAt', 'heartbeatAt', 'nodes'],
  },
  ServerList: { type: 'object', properties: { state: { type: 'string', enum: ['files', 'postgres'] }, servers: { type: 'array', items: { $ref: '#/components/schemas/BootServer' } } }, required: ['state', 'servers'] },
  ProfileList: { type: 'object', properties: { defaultProfile: nullableString, profiles: { type: 'array', items: { $ref: '#/components/schemas/Profile' } } }, required: ['defaultProfile', 'profiles'] },
  StoredImageVersion: {
    type: 'object',
    properties: { version: string, created: string, kernelVersion: string, size: integer, sha256: string, parent: nullableString, published: { type: 'boolean' }, nodes: strings },
    required: ['version', 'created', 'kernelVersion', 'size', 'sha256', 'parent', 'published', 'nodes'],
  },
  StoredImage: {
    type: 'object',
    properties: { name: string, published: nullableString, publishedAt: nullableString, previous: strings, versions: { type: 'array', items: { $ref: '#/components/schemas/StoredImageVersion' } } },
    required: ['name', 'published', 'publishedAt', 'previous', 'versions'],
  },
  ImageList: { type: 'object', properties: { images: { type: 'array', items: { $ref: '#/components/schemas/StoredImage' } } }, required: ['images'] },
  NodeWritten: { type: 'object', properties: { mac: string }, required: ['mac'] },
  Published: {
    type: 'object',
    properties: {
      name: string,
      published: { type: 'object', properties: { version: string, previous: strings, publishedAt: string }, required: ['version', 'previous', 'publishedAt'] },
      copies: { type: 'array', items: { $ref: '#/components/schemas/ImageCopy' } },
    },
    required: ['name', 'published'],
  },
  ImageCopy: {
    type: 'object',
    properties: { server: string, state: { type: 'string', enum: ['present', 'failed', 'absent'] }, reason: string },
    required: ['server', 'state'],
  },
  RolloutSpec: {
    type: 'object',
    properties: {
      image: string, version: string, canary: integer,
      batch: { oneOf: [{ type: 'object', properties: { count: integer }, required: ['count'] }, { type: 'object', properties: { percent: { type: 'number' } }, required: ['percent'] }] },
      maxFailed: integer, timeoutSec: integer,
    },
    required: ['image', 'version', 'canary', 'batch', 'maxFailed', 'timeoutSec'],
  },
  RolloutNode: {
    type: 'object',
    properties: {
      mac: string, name: string, wave: { type: 'integer', description: '0: the canaries; 1…: the batches' },
      previousPin: nullableString, previousVersion: string,
      status: { enum: ['pending', 'waiting', 'done', 'rolling-back', 'rolled-back', 'rollback-failed', 'skipped'] },
      afterSeq: integer, deadline: { type: 'integer', description: 'ms since the epoch' },
      failure: { type: 'object', properties: { stage: string, cause: string }, required: ['stage', 'cause'] },
      rollbackFailure: { type: 'object', properties: { stage: string, cause: string }, required: ['stage', 'cause'] },
    },
    required: ['mac', 'name', 'wave', 'previousPin', 'previousVersion', 'status'],
  },
  Rollout: {
    type: 'object',
    properties: {
      id: string, spec: { $ref: '#/components/schemas/RolloutSpec' }, wholeImage: { type: 'boolean' }, createdAt: integer,
      status: { enum: ['running', 'paused', 'stopped', 'aborted', 'completed'] },
      wave: integer, waves: integer, nodes: { type: 'array', items: { $ref: '#/components/schemas/RolloutNode' } }, message: string, endedAt: integer,
    },
    required: ['id', 'spec', 'wholeImage', 'createdAt', 'status', 'wave', 'waves', 'nodes'],
  },
  RolloutList: {
    type: 'object',
    properties: { current: nullable({ $ref: '#/components/schemas/Rollout' }), history: { type: 'array', items: { $ref: '#/components/schemas/Rollout' } } },
    required: ['current', 'history'],
  },
  VersionPinRow: {
    type: 'object',
    properties: { mac: { type: 'string' }, node: { type: 'string' }, image: { type: 'string' }, version: { type: 'string' }, since: { type: 'string' }, by: { type: 'string' } },
    required: ['mac', 'image', 'version', 'since', 'by'],
  },
  VersionPinList: { type: 'object', properties: { pins: { type: 'array', items: { $ref: '#/components/schemas/VersionPinRow' } } }, required: ['pins'] },
  Unpinned: { type: 'object', properties: { unpinned: { type: 'array', items: { $ref: '#/components/schemas/VersionPinRow' } } }, required: ['unpinned'] },
} as const satisfies Record<string, Schema>;
