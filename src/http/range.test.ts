import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planFileResponse } from './range.js';

const file = { size: 1000, etag: '"abc"', mtime: new Date('2026-01-01T00:00:00Z') };
const cases: Array<[string, Parameters<typeof planFileResponse>[0], ReturnType<typeof planFileResponse>]> = [
  ['no range', {}, { status: 200, start: 0, end: 999 }],
  ['first bytes', { range: 'bytes=0-99' }, { status: 206, start: 0, end: 99 }],
  ['open end', { range: 'bytes=900-' }, { status: 206, start: 900, end: 999 }],
  ['suffix', { range: 'bytes=-100' }, { status: 206, start: 900, end: 999 }],
  ['suffix larger than file', { range: 'bytes=-5000' }, { status: 206, start: 0, end: 999 }],
  ['end past size clamps', { range: 'bytes=10-5000' }, { status: 206, start: 10, end: 999 }],
  ['start past size', { range: 'bytes=1000-' }, { status: 416 }],
  ['zero suffix', { range: 'bytes=-0' }, { status: 416 }],
  ['reversed range ignored', { range: 'bytes=50-10' }, { status: 200, start: 0, end: 999 }],
  ['multi-range served whole', { range: 'bytes=0-1,5-6' }, { status: 200, start: 0, end: 999 }],
  ['other unit ignored', { range: 'items=0-1' }, { status: 200, start: 0, end: 999 }],
  ['etag match', { ifNoneMatch: '"x", "abc"' }, { status: 304 }],
  ['weak etag match', { ifNoneMatch: 'W/"abc"' }, { status: 304 }],
  ['etag mismatch ignores If-Modified-Since', { ifNoneMatch: '"x"', ifModifiedSince: 'Thu, 01 Jan 2099 00:00:00 GMT' }, { status: 200, start: 0, end: 999 }],
  ['not modified since', { ifModifiedSince: 'Thu, 01 Jan 2026 00:00:00 GMT' }, { status: 304 }],
  ['modified since', { ifModifiedSince: 'Wed, 31 Dec 2025 00:00:00 GMT' }, { status: 200, start: 0, end: 999 }],
  ['if-range fresh etag', { range: 'bytes=0-0', ifRange: '"abc"' }, { status: 206, start: 0, end: 0 }],
  ['if-range stale etag', { range: 'bytes=0-0', ifRange: '"old"' }, { status: 200, start: 0, end: 999 }],
];
for (const [name, h, want] of cases) test(`range plan: ${name}`, () => assert.deepEqual(planFileResponse(h, file), want));
