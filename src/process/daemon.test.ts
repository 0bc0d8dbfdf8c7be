import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '../testing/wait-until.js';
import { CommandError } from './command.js';
import { Daemon } from './daemon.js';
import { run } from './run.js';
import { isDead } from './testdata/process-state.js';

/** Starts argv and waits for it to print "ready" (its signal handling is set up by then). */
async function startReady(argv: string[], ownProcessGroup = true): Promise<{ daemon: Daemon; lines: string[] }> {
  const lines: string[] = [];
  const daemon = await Daemon.start(argv, { ownProcessGroup, onLine: (l) => lines.push(l) });
  await waitUntil(`${argv[0]} ready`, () => lines.includes('ready') || daemon.status !== undefined);
  assert.equal(daemon.status, undefined, `it died: ${daemon.output()}`);
  return { daemon, lines };
}

test('keeps its output, tells its exit, and appends to a log file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dl-daemon-'));
  try {
    const lines: string[] = [];
    const logFile = join(dir, 'd.log');
    const d = await Daemon.start(['sh', '-c', 'echo one; echo two >&2; exit 4'], { logFile, onLine: (l) => lines.push(l) });
    assert.deepEqual(await d.exited, { code: 4, signal: null });
    assert.deepEqual(d.status, { code: 4, signal: null });
    assert.deepEqual(d.output().split('\n').sort(), ['', 'one', 'two']);
    assert.deepEqual(lines.sort(), ['one', 'two']);
    assert.deepEqual((await readFile(logFile, 'utf8')).split('\n').sort(), ['', 'one', 'two']);
    assert.deepEqual(await d.stop(), { code: 4, signal: null }, 'stopping an exited daemon gives its exit');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('stop() ends it with SIGTERM when it obeys', async () => {
  const { daemon } = await startReady(['sh', '-c', 'echo ready; exec sleep 300']);
  assert.deepEqual(await daemon.stop(), { code: null, signal: 'SIGTERM' });
});

test('stop() falls back to SIGKILL when SIGTERM is ignored, in its own group or in ours', async () => {
  // An ignored signal stays ignored across exec, so the sleeps ignore it too.
  const own = await startReady(['sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 1; done']);
  assert.deepEqual(await own.daemon.stop(200), { code: null, signal: 'SIGKILL' });

  const shared = await startReady([process.execPath, '-e', 'process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)'], false);
  assert.deepEqual(await shared.daemon.stop(200), { code: null, signal: 'SIGKILL' });
});

test('in its own process group, stop() also reaches what it forked', async () => {
  const { daemon, lines } = await startReady(['sh', '-c', 'sleep 300 & echo "child $!"; echo ready; wait']);
  const child = Number(lines.find((l) => l.startsWith('child '))?.slice(6));
  assert.ok(child > 0, lines.join('\n'));
  await daemon.stop();
  await waitUntil(`forked sleep ${child} gone`, () => isDead(child));
});

test('a missing program says how to install it', async () => {
  const e = await Daemon.start(['diskless-no-such-daemon']).then(() => assert.fail('started'), (err: unknown) => err);
  assert.ok(e instanceof CommandError);
  assert.equal(e.failure, 'not-found');
  assert.match(e.message, /^Cannot start diskless-no-such-daemon: .*ENOENT \(is it installed\? scripts\/install-deps\.sh installs it\)$/);
});

test('a daemon left running is killed when this process exits', async () => {
  const script = `
    const { Daemon } = await import(${JSON.stringify(new URL('./daemon.js', import.meta.url).href)});
    const d = await Daemon.start(['sleep', '300']);
    console.log(d.pid);
    process.exit(0);
  `;
  const r = await run([process.execPath, '--input-type=module', '-e', script], { timeoutMs: 30_000 });
  const pid = Number(r.stdout.trim());
  assert.ok(pid > 0, r.stdout);
  await waitUntil(`sleep ${pid} gone`, () => isDead(pid));
});
