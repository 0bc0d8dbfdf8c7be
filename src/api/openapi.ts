/**
 * The OpenAPI 3.1 description of /api/v1, written by hand next to the route table;
 * openapi.test.ts checks both list the same operations.
 */
import { MAX_QUERY_LIMIT } from '../events/event-store.js';
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from './paging.js';
import { DISKLESS_ERROR_CODES } from '../errors/diskless-error.js';

const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { description: ERROR_TEXT[c] ?? 'Error', ...json(ref('Error')) }]));
const ERROR_TEXT: Record<number, string> = {
  400: 'Bad request', 401: 'No admin token', 403: 'Not allowed (address or token)', 404: 'Not found', 409: 'Conflict', 413: 'Body too large', 503: 'Not available on this server, or too many event streams open',
};
const macParam = { name: 'mac', in: 'path', required: true, schema: { type: 'string', examples: ['52:54:00:12:34:56'] } };
const nameParam = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };
const sinceParam = { name: 'since', in: 'query', schema: { type: 'string' }, description: 'An event seq (events after it, oldest first) or an ISO time; without it the newest events' };
const limitParam = { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_QUERY_LIMIT, default: 100 } };
const nodeParam = { name: 'node', in: 'query', schema: { type: 'string' }, description: 'Only this MAC' };
const listLimitParam = { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT, default: DEFAULT_LIST_LIMIT }, description: 'Machines per page' };
const afterParam = { name: 'after', in: 'query', schema: { type: 'string' }, description: 'The "next" of the previous page: machines whose MAC sorts after it' };
/** A page of machines in MAC order; `next` is the `after` of the following page, null on the last. */
const machinePage = (key: string) => json({ type: 'object', properties: { [key]: { type: 'array', items: ref('NodeSummary') }, next: { type: ['string', 'null'] } }, required: [key, 'next'] });
const read = { security: [] as object[] };
const write = { security: [{ adminToken: [] }] };
const nodeBody = {
  type: 'object',
  properties: Object.fromEntries(['hostname', 'address', 'profile', 'cmdline', 'loader'].map((k) => [k, { type: ['string', 'null'] }])),
  additionalProperties: false,
};

export function openApiDocument(): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Diskless API',
      version: '1',
      description: 'Nodes, their boots and images. Reads are allowed from the configured networks; writes need Authorization: Bearer <admin token>.',
    },
    servers: [{ url: '/api/v1' }],
    paths: {
      '/openapi.json': { get: { ...read, operationId: 'openapi', summary: 'This document', responses: { 200: json({ type: 'object' }), ...errors(403) } } },
      '/nodes': {
        get: { ...read, operationId: 'listNodes', summary: 'Inventory nodes with their state, a page at a time in MAC order', parameters: [listLimitParam, afterParam], responses: { 200: machinePage('nodes'), ...errors(400, 403) } },
        post: {
          ...write, operationId: 'addNode', summary: 'Add a node to the inventory',
          requestBody: { required: true, ...json({ ...nodeBody, properties: { mac: { type: 'string' }, ...nodeBody.properties }, required: ['mac'] }) },
          responses: { 201: json({ type: 'object', properties: { mac: { type: 'string' } } }), ...errors(400, 401, 403, 413, 503) },
        },
      },
      '/nodes/{mac}': {
        get: { ...read, operationId: 'getNode', summary: 'A node, its state and the timeline of its latest boot', parameters: [macParam], responses: { 200: json(ref('NodeDetail')), ...errors(400, 403, 404) } },
        post: {
          ...write, operationId: 'setNode', summary: 'Change inventory fields of a node (null removes one)', parameters: [macParam],
          requestBody: { required: true, ...json(nodeBody) },
          responses: { 200: json({ type: 'object', properties: { mac: { type: 'string' } } }), ...errors(400, 401, 403, 404, 413, 503) },
        },
      },
      '/nodes/{mac}/events': {
        get: { ...read, operationId: 'nodeEvents', summary: 'Events of one machine', parameters: [macParam, sinceParam, limitParam], responses: { 200: json(ref('EventPage')), ...errors(400, 403) } },
      },
      '/profiles': { get: { ...read, operationId: 'listProfiles', summary: 'Profiles and the nodes using each', responses: { 200: json({ type: 'object' }), ...errors(403) } } },
      '/images': { get: { ...read, operationId: 'listImages', summary: 'Images, their versions and the machines running each', responses: { 200: json({ type: 'object' }), ...errors(403, 503) } } },
      '/images/{name}/publish': {
        post: {
          ...write, operationId: 'publishImage', summary: 'Make a version the one new boots get', parameters: [nameParam],
          requestBody: { required: true, ...json({ type: 'object', properties: { version: { type: 'string', pattern: '^[0-9a-f]{16}$' } }, required: ['version'] }) },
          responses: { 200: json({ type: 'object' }), ...errors(400, 401, 403, 404, 413, 503) },
        },
      },
      '/images/{name}/rollback': {
        post: { ...write, operationId: 'rollbackImage', summary: 'Publish the previously published version again', parameters: [nameParam], responses: { 200: json({ type: 'object' }), ...errors(400, 401, 403, 404, 503) } },
      },
      '/discovered': { get: { ...read, operationId: 'listDiscovered', summary: 'Machines seen but not in the inventory, a page at a time in MAC order', parameters: [listLimitParam, afterParam], responses: { 200: machinePage('discovered'), ...errors(400, 403) } } },
      '/discovered/{mac}/adopt': {
        post: {
          ...write, operationId: 'adoptDiscovered', summary: 'Add a discovered machine to the inventory', parameters: [macParam],
          requestBody: { required: false, ...json(nodeBody) },
          responses: { 201: json({ type: 'object', properties: { mac: { type: 'string' } } }), ...errors(400, 401, 403, 404, 409, 413, 503) },
        },
      },
      '/events': { get: { ...read, operationId: 'listEvents', summary: 'Boot events, newest last', parameters: [nodeParam, sinceParam, limitParam], responses: { 200: json(ref('EventPage')), ...errors(400, 403) } } },
      '/events/stream': {
        get: {
          ...read, operationId: 'streamEvents', summary: 'Live events as Server-Sent Events (id = seq; Last-Event-ID or ?since= resumes)',
          parameters: [nodeParam, { name: 'since', in: 'query', schema: { type: 'integer' } }, { name: 'Last-Event-ID', in: 'header', schema: { type: 'integer' } }],
          responses: { 200: { description: 'An endless event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors(400, 403, 503) },
        },
      },
    },
    components: {
      securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          properties: {
            error: { type: 'string' },
            code: {
              enum: Object.keys(DISKLESS_ERROR_CODES),
              description: `Stable. Present when the inventory, the image store or another part behind the API refused; refusals of the API itself (access, method, body, query) have none. ${Object.entries(DISKLESS_ERROR_CODES).map(([c, meaning]) => `${c}: ${meaning}`).join('; ')}`,
            },
            hint: { type: 'string' },
          },
          required: ['error', 'hint'],
        },
        Event: {
          type: 'object',
          properties: {
            seq: { type: 'integer' }, time: { type: 'integer', description: 'ms since the epoch' }, mac: { type: 'string' }, ip: { type: 'string' },
            kind: { enum: ['dhcp', 'tftp', 'http', 'nbd', 'stage', 'booted', 'failed', 'alert'] }, name: { type: 'string' }, detail: { type: 'string' },
            durationMs: { type: 'number' }, bytes: { type: 'number' }, fields: { type: 'object', additionalProperties: { type: 'string' } },
          },
          required: ['seq', 'time', 'kind', 'name', 'detail', 'fields'],
        },
        EventPage: { type: 'object', properties: { events: { type: 'array', items: ref('Event') }, lastSeq: { type: 'integer' } } },
        NodeSummary: {
          type: 'object',
          properties: {
            mac: { type: 'string' }, known: { type: 'boolean' }, hostname: { type: ['string', 'null'] }, profile: { type: 'string' },
            status: { enum: ['offline', 'discovered', 'dhcp', 'loading', 'initramfs', 'booted', 'failed'] },
            stage: { type: ['string', 'null'] }, cause: { type: ['string', 'null'] }, bootStartedAt: { type: ['integer', 'null'] },
            running: { type: ['object', 'null'], properties: { name: { type: 'string' }, version: { type: 'string' } } },
          },
        },
        NodeDetail: {
          allOf: [ref('NodeSummary'), {
            type: 'object',
            properties: { timeline: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, status: { enum: ['running', 'ok', 'retry', 'failed'] }, start: { type: 'integer' }, end: { type: 'integer' }, durationMs: { type: 'number' }, detail: { type: 'string' } } } } },
          }],
        },
      },
    },
  };
}
