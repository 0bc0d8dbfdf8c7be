import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminBaseUrl, endpointPath, ENDPOINTS, matchPath, OPERATION_IDS, operationsOn } from './endpoints.js';

test('one endpoint per method and path, each on one listener', () => {
  const keys = OPERATION_IDS.map((id) => `${ENDPOINTS[id].method} ${ENDPOINTS[id].path}`);
  assert.equal(new Set(keys).size, keys.length);
  assert.deepEqual([...operationsOn('admin'), ...operationsOn('boot'), ...operationsOn('secrets')].sort(), [...OPERATION_IDS].sort());
  assert.deepEqual(operationsOn('boot'), ['report', 'failureReport']);
  assert.deepEqual(operationsOn('secrets'), ['nodeFiles']);
  assert.equal(endpointPath('report'), '/api/v1/report');
  assert.equal(endpointPath('nodeFiles'), '/api/v1/node-files');
});

test('paths with {param} segments match one whole non-empty segment each', () => {
  assert.deepEqual(matchPath('/nodes/{mac}/events', '/nodes/52:54:00:00:00:01/events'), { mac: '52:54:00:00:00:01' });
  assert.equal(matchPath('/nodes/{mac}', '/nodes/'), undefined);
  assert.equal(matchPath('/nodes/{mac}', '/nodes/a/b'), undefined);
  assert.deepEqual(matchPath('/nodes', '/nodes'), {});
});

test('the admin listener is plain HTTP on loopback only, and IPv6 addresses are bracketed in its URL', () => {
  assert.equal(adminBaseUrl('127.0.0.1', 8780), 'http://127.0.0.1:8780');
  assert.equal(adminBaseUrl('::1', 8780), 'http://[::1]:8780');
  assert.equal(adminBaseUrl('10.77.0.1', 8780), 'https://10.77.0.1:8780');
  assert.equal(adminBaseUrl('fd00::1', 443), 'https://[fd00::1]:443');
});
