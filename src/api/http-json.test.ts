import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DisklessError, type DisklessErrorCode } from '../errors/diskless-error.js';
import { InventoryError } from '../inventory/editor.js';
import { StoreError } from '../images/store/image-store.js';
import { memoryLogger } from '../log/logger.js';
import { ApiError, errorAnswer } from './http-json.js';
import { auth, call, startApi, VERSION } from './testdata/api-fixture.js';

const N1 = '52:54:00:00:00:01';

test('a DisklessError is answered by its code: invalid 400, not found 404, in use 409, the server\'s own failure 500', () => {
  const status = (code: DisklessErrorCode) => errorAnswer(new DisklessError(code, 'm')).status;
  for (const code of ['DL_INVALID', 'DL_CONFIG', 'DL_INVENTORY', 'DL_STORE'] as const) assert.equal(status(code), 400, code);
  for (const code of ['DL_INVENTORY_NOT_FOUND', 'DL_STORE_NOT_FOUND'] as const) assert.equal(status(code), 404, code);
  assert.equal(status('DL_STORE_IN_USE'), 409);
  for (const code of ['DL_TOOL', 'DL_CERTIFICATE', 'DL_SECRET_PERMISSION'] as const) assert.equal(status(code), 500, code);

  assert.deepEqual(errorAnswer(new StoreError('DL_STORE_NOT_FOUND', 'Image web has no version 0123456789abcdef')), {
    status: 404,
    body: { error: 'Image web has no version 0123456789abcdef', code: 'DL_STORE_NOT_FOUND', hint: 'GET /api/v1/images lists images and versions' },
    headers: {},
  });
});

test('a 5xx answer keeps the message for the log; an ApiError keeps its status and has no code; anything else is a 500', () => {
  const tool = errorAnswer(new DisklessError('DL_TOOL', 'Cannot run ssh-keygen: spawn ENOENT in /var/lib/diskless'));
  assert.deepEqual(tool.body, { error: 'Internal error', code: 'DL_TOOL', hint: 'See the server log' });
  assert.deepEqual(errorAnswer(new ApiError(401, 'Missing admin token', 'Send Authorization: Bearer <admin token>', { 'www-authenticate': 'Bearer' })), {
    status: 401,
    body: { error: 'Missing admin token', hint: 'Send Authorization: Bearer <admin token>' },
    headers: { 'www-authenticate': 'Bearer' },
  });
  assert.deepEqual(errorAnswer(new TypeError('x is undefined')), { status: 500, body: { error: 'Internal error', hint: 'See the server log' }, headers: {} });
});

test('routes answer refusals from behind the API with {error, code, hint} and log a 500', async (t) => {
  const logger = memoryLogger();
  const { port } = await startApi(t, {
    logger,
    writes: {
      addNode: async () => {
        throw new Error('disk on fire');
      },
      setNode: async (mac) => {
        throw new InventoryError('DL_INVENTORY_NOT_FOUND', `no node with MAC ${mac}`);
      },
    },
    images: {
      list: async () => [],
      publish: async (name, version) => {
        throw new StoreError('DL_STORE_NOT_FOUND', `Image ${name} has no version ${version}`);
      },
      rollback: async (name) => {
        throw new StoreError('DL_STORE', `Image ${name}: no previous version to roll back to`);
      },
    },
  });
  const set = await call(port, 'POST', `/api/v1/nodes/${N1}`, { body: '{"hostname":"n1"}', headers: auth });
  assert.equal(set.status, 404);
  assert.deepEqual(Object.keys(set.json), ['error', 'code', 'hint']);
  assert.deepEqual([set.json.error, set.json.code], [`no node with MAC ${N1}`, 'DL_INVENTORY_NOT_FOUND']);

  const publish = await call(port, 'POST', '/api/v1/images/web/publish', { body: `{"version":"${VERSION}"}`, headers: auth });
  assert.deepEqual([publish.status, publish.json.code], [404, 'DL_STORE_NOT_FOUND']);
  const rollback = await call(port, 'POST', '/api/v1/images/web/rollback', { headers: auth });
  assert.deepEqual([rollback.status, rollback.json.code], [400, 'DL_STORE']);

  const bug = await call(port, 'POST', '/api/v1/nodes', { body: `{"mac":"52:54:00:00:00:07"}`, headers: auth });
  assert.deepEqual([bug.status, bug.json], [500, { error: 'Internal error', hint: 'See the server log' }]);
  const logged = logger.lines.filter((l) => l.msg === 'request failed');
  assert.deepEqual(logged.map((l) => [l.level, l['service'], l['path'], l['error']]), [['error', 'api', '/api/v1/nodes', 'disk on fire']]);
});
