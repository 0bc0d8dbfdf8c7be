import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser } from './sse-parser.js';

const STREAM = 'retry: 3000\n\n: heartbeat\n\nid: 7\ndata: {"seq":7}\n\nid: 8\nevent: boot\ndata: line1\ndata: line2\n\n';

test('messages, ids, event names, retry; comments and empty blocks dispatch nothing', () => {
  const p = new SseParser();
  assert.deepEqual(p.push(STREAM), [
    { id: '7', event: 'message', data: '{"seq":7}' },
    { id: '8', event: 'boot', data: 'line1\nline2' },
  ]);
  assert.equal(p.retryMs, 3000);
  assert.equal(p.lastEventId, '8');
});

test('any split into chunks gives the same messages', () => {
  const whole = new SseParser().push(STREAM);
  for (let size = 1; size <= 7; size++) {
    const p = new SseParser();
    const got = [];
    for (let i = 0; i < STREAM.length; i += size) got.push(...p.push(STREAM.slice(i, i + size)));
    assert.deepEqual(got, whole, `chunks of ${size}`);
  }
});

test('CRLF and lone CR end lines, a CRLF split across chunks is one line end', () => {
  const p = new SseParser();
  assert.deepEqual(p.push('id: 1\r\ndata: a\r'), []);
  assert.deepEqual(p.push('\n\r\ndata: b\r\r'), [{ id: '1', event: 'message', data: 'a' }, { id: '1', event: 'message', data: 'b' }]);
});

test('a message cut off by a dropped connection is neither dispatched nor counted in Last-Event-ID', () => {
  const p = new SseParser();
  assert.deepEqual(p.push('id: 41\ndata: {"seq":41}\n\nid: 42\ndata: {"se'), [{ id: '41', event: 'message', data: '{"seq":41}' }]);
  assert.equal(p.lastEventId, '41', 'a reconnect asks for 42 again');
});

test('field without colon, no space after colon, id with NUL ignored, unknown fields ignored', () => {
  const p = new SseParser();
  assert.deepEqual(p.push('id:5\nfoo: bar\ndata\n\nid: a\0b\ndata:x\n\n'), [
    { id: '5', event: 'message', data: '' },
    { id: '5', event: 'message', data: 'x' },
  ]);
});
