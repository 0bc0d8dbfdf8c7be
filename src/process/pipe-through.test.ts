import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '../testing/wait-until.js';
import { CommandError } from './command.js';
import { pipeThrough } from './pipe-through.js';
import { isDead } from './testdata/process-state.js';

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield Buffer.from(p);
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const c of source) parts.push(c);
  return Buffer.concat(parts).toString();
}

test('streams the source through the command', async () => {
  assert.equal(await collect(pipeThrough(['tr', 'a-z', 'A-Z'], chunks('hello ', 'pipe'))), 'HELLO PIPE');
});

test('a command that stops reading early is no failure; its exit status decides', async () => {
  async function* endless(): AsyncGenerator<Uint8Array> {
    for (;;) yield Buffer.alloc(64 * 1024, 'x');
  }
  assert.equal(await collect(pipeThrough(['head', '-c', '5'], endless())), 'xxxxx');
});

test('a failing command rejects with its exit and stderr', async () => {
  const e = await collect(pipeThrough(['sh', '-c', 'echo "bad input" >&2; exit 3'], chunks('x'))).then(() => assert.fail('resolved'), (err: unknown) => err);
  assert.ok(e instanceof CommandError);
  assert.equal(e.failure, 'exit');
  assert.match(e.message, /^Cannot run sh -c .*: exit 3: bad input$/);
});

test('a failing source rejects with its own error and ends the command', async () => {
  async function* broken(): AsyncGenerator<Uint8Array> {
    yield Buffer.from('some');
    throw new Error('source broke');
  }
  await assert.rejects(collect(pipeThrough(['cat'], broken())), /^Error: source broke$/);
});

test('a consumer that stops early kills the command', async () => {
  async function* endless(): AsyncGenerator<Uint8Array> {
    for (;;) yield Buffer.from('data\n');
  }
  let pid = 0;
  for await (const chunk of pipeThrough(['sh', '-c', 'echo "pid $$"; exec cat'], endless())) {
    pid = Number(/^pid (\d+)/.exec(Buffer.from(chunk).toString())?.[1]);
    break;
  }
  assert.ok(pid > 0);
  await waitUntil(`filter ${pid} killed`, () => isDead(pid));
});

test('a missing program says how to install it', async () => {
  await assert.rejects(collect(pipeThrough(['diskless-no-such-filter'], chunks('x'))), /ENOENT \(is it installed\? scripts\/install-deps\.sh installs it\)$/);
});
