import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DISKLESS_ERROR_CODES, DisklessError } from './diskless-error.js';

test('a DisklessError carries its code, message and cause, and is an Error with a stack', () => {
  const cause = new Error('ENOSPC');
  const e = new DisklessError('DL_STORE_NOT_FOUND', 'Image web has no version 0123456789abcdef', { cause });
  assert.ok(e instanceof Error);
  assert.equal(e.code, 'DL_STORE_NOT_FOUND');
  assert.equal(e.name, 'DisklessError');
  assert.equal(e.message, 'Image web has no version 0123456789abcdef');
  assert.equal(e.cause, cause);
  assert.equal(String(e), 'DisklessError: Image web has no version 0123456789abcdef');
  assert.match(e.stack ?? '', /diskless-error\.test\.js/);
  assert.equal(new DisklessError('DL_USAGE', 'x').cause, undefined);
});

test('a subclass keeps its own name and a code of the base', () => {
  class StoreLikeError extends DisklessError {
    override name = 'StoreLikeError';
  }
  const e = new StoreLikeError('DL_STORE_IN_USE', 'Cannot remove web@0123456789abcdef: it is the published version');
  assert.ok(e instanceof DisklessError);
  assert.equal(e.name, 'StoreLikeError');
  assert.equal(e.code, 'DL_STORE_IN_USE');
  assert.match(String(e), /^StoreLikeError: Cannot remove/);
});

test('every code is DL_ and upper case, and says what it means', () => {
  const codes = Object.entries(DISKLESS_ERROR_CODES);
  assert.ok(codes.length >= 10);
  for (const [code, meaning] of codes) {
    assert.match(code, /^DL_[A-Z_]+$/);
    assert.ok(meaning.length > 10, code);
  }
});
