import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '../testing/wait-until.js';
import { CommandError } from './command.js';
import { run, runSyncForExitHook } from './run.js';
import { isDead } from './testdata/process-state.js';

test('gives the exit code and output; check: false resolves on failure', async () => {
  const ok = await run(['sh', '-c', 'echo out; echo err >&2']);
  assert.deepEqual([ok.code, ok.signal, ok.stdout, ok.stderr, ok.timedOut], [0, null, 'out\n', 'err\n', false]);
  const failed = await run(['sh', '-c', 'echo partial; exit 3'], { check: false });
  assert.deepEqual([failed.code, failed.stdout], [3, 'partial\n']);
});

test('a failure names the command, its exit and the last lines of its output', async () => {
  const script = 'for i in $(seq 1 30); do echo "line $i" >&2; done; exit 2';
  const e = await run(['sh', '-c', script]).then(() => assert.fail('resolved'), (err: unknown) => err);
  assert.ok(e instanceof CommandError);
  assert.equal(e.failure, 'exit');
  assert.deepEqual(e.exit, { code: 2, signal: null });
  assert.ok(e.message.startsWith(`Cannot run sh -c '${script}': exit 2:\n`), e.message);
  assert.match(e.message, /line 16\n[^]*line 30$/);
  assert.doesNotMatch(e.message, /line 15\n/, 'only the last 15 lines');
  // stdout stands in when stderr is empty.
  await assert.rejects(run(['sh', '-c', 'echo only-stdout; exit 1']), /: exit 1: only-stdout$/);
});

test('input, cwd and env reach the command', async () => {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'dl-run-')));
  try {
    assert.equal((await run(['cat'], { input: 'fed in' })).stdout, 'fed in');
    const r = await run(['sh', '-c', 'pwd; echo "$DL_RUN_TEST"'], { cwd: dir, env: { ...process.env, DL_RUN_TEST: 'from env' } });
    assert.equal(r.stdout, `${dir}\nfrom env\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('onLine gets each non-blank line of stdout and stderr, a carriage return ending one too', async () => {
  const lines: string[] = [];
  await run(['sh', '-c', `printf 'one\\ntwo\\r 3%%\\n\\n'; printf 'err\\n' >&2; printf 'last'`], { onLine: (l) => lines.push(l) });
  assert.deepEqual([...lines].sort(), [' 3%', 'err', 'last', 'one', 'two']);
  assert.deepEqual(lines.filter((l) => l !== 'err'), ['one', 'two', ' 3%', 'last'], 'in order within a stream');
});

test('a timeout kills the whole process group, not just the command', async () => {
  // The backgrounded sleep keeps the shell's stdout open: were it left alive, run would never end.
  const r = await run(['sh', '-c', 'sleep 300 & echo $!; wait'], { timeoutMs: 300, check: false });
  assert.equal(r.timedOut, true);
  assert.equal(r.signal, 'SIGKILL');
  const sleeper = Number(r.stdout.trim());
  assert.ok(sleeper > 0, r.stdout);
  await waitUntil(`sleep ${sleeper} killed`, () => isDead(sleeper));

  const e = await run(['sleep', '300'], { timeoutMs: 100 }).then(() => assert.fail('resolved'), (err: unknown) => err);
  assert.ok(e instanceof CommandError);
  assert.equal(e.failure, 'timeout');
  assert.match(e.message, /^Cannot run sleep 300: timed out after 0\.1 s$/);
});

test('a missing program says how to install it', async () => {
  const e = await run(['diskless-no-such-program', '--flag']).then(() => assert.fail('resolved'), (err: unknown) => err);
  assert.ok(e instanceof CommandError);
  assert.equal(e.failure, 'not-found');
  assert.match(e.message, /^Cannot run diskless-no-such-program --flag: .*ENOENT \(is it installed\? scripts\/install-deps\.sh installs it\)$/);
});

test('killOn passes its reason on as a signal', async () => {
  const ac = new AbortController();
  const running = run(['sleep', '300'], { killOn: ac.signal, check: false });
  ac.abort('SIGHUP');
  const r = await running;
  assert.deepEqual([r.code, r.signal], [null, 'SIGHUP']);
});

test('argv is never a shell string: words with spaces and quotes reach the command as they are', async () => {
  const word = `it's a "word"; $HOME`;
  assert.equal((await run(['printf', '%s', word])).stdout, word);
});

test('runSyncForExitHook gives stdout, or nothing when the command fails', () => {
  assert.equal(runSyncForExitHook(['echo', 'sync']), 'sync\n');
  assert.equal(runSyncForExitHook(['sh', '-c', 'echo no; exit 1']), '');
  assert.equal(runSyncForExitHook(['diskless-no-such-program']), '');
});
