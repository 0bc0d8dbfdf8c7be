import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTES } from './routes.js';
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from './paging.js';
import { call, startApi } from './testdata/api-fixture.js';

test('the OpenAPI document lists exactly the routes the API handles', async (t) => {
  const { port } = await startApi(t);
  const r = await call(port, 'GET', '/api/v1/openapi.json');
  assert.equal(r.status, 200);
  assert.equal(r.json.openapi, '3.1.0');
  assert.deepEqual(r.json.servers, [{ url: '/api/v1' }]);
  const documented = Object.entries(r.json.paths as Record<string, Record<string, { security: unknown[] }>>)
    .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => `${method.toUpperCase()} ${path} ${op.security.length ? 'write' : 'read'}`))
    .sort();
  const handled = ROUTES.map((route) => `${route.method} ${route.path} ${route.access}`).sort();
  assert.deepEqual(documented, handled);
  // Each operation documents exactly the query parameters its route reads.
  type Param = { name: string; in: string; schema: { minimum?: number; maximum?: number; default?: number } };
  const ops = r.json.paths as Record<string, Record<string, { parameters?: Param[] }>>;
  for (const route of ROUTES) {
    const documented = (ops[route.path]?.[route.method.toLowerCase()]?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name).sort();
    assert.deepEqual(documented, [...(route.query ?? [])].sort(), `${route.method} ${route.path}`);
  }
  // Lists are paged, with the limits the API enforces.
  for (const path of ['/nodes', '/discovered']) {
    const limit = ops[path]!.get!.parameters!.find((p) => p.name === 'limit')!;
    assert.deepEqual([limit.schema.minimum, limit.schema.maximum, limit.schema.default], [1, MAX_LIST_LIMIT, DEFAULT_LIST_LIMIT], path);
  }
  // Every $ref resolves.
  for (const [, name] of JSON.stringify(r.json).matchAll(/"#\/components\/schemas\/(\w+)"/g)) assert.ok(r.json.components.schemas[name!], name);
});
