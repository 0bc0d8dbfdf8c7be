import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '../testing/wait-until.js';
import { Daemon } from './daemon.js';

const EXIT_CLEANUP = JSON.stringify(new URL('./exit-cleanup.js', import.meta.url).href);

/** Runs `body` as a module in a fresh Node, sends it SIGTERM once it prints "ready", and gives what it printed. */
async function terminated(body: string): Promise<{ lines: string[]; code: number | null; signal: NodeJS.Signals | null }> {
  const script = `
    const { writeSync } = await import('node:fs');
    const say = (s) => writeSync(1, s + '\\n');
    const { onExitCleanup } = await import(${EXIT_CLEANUP});
    ${body}
    say('ready');
    setInterval(() => {}, 1000);
  `;
  const lines: string[] = [];
  const d = await Daemon.start([process.execPath, '--input-type=module', '-e', script], { onLine: (l) => lines.push(l) });
  await waitUntil('the script ready', () => lines.includes('ready') || d.status !== undefined);
  await d.kill('SIGTERM');
  const { code, signal } = await d.exited;
  return { lines, code, signal };
}

test('on a signal nobody else handles, cleanup runs and the process dies by that signal', async () => {
  const r = await terminated(`onExitCleanup(() => say('cleanup'));`);
  assert.deepEqual(r, { lines: ['ready', 'cleanup'], code: null, signal: 'SIGTERM' });
});

test('a signal the program handles itself leaves the order to it; cleanup still runs at exit', async () => {
  // As `diskless serve` does: stop the services in order first, then exit.
  const r = await terminated(`
    onExitCleanup(() => say('cleanup'));
    process.once('SIGTERM', () => {
      say('stopping in order');
      setTimeout(() => process.exit(0), 10);
    });
  `);
  assert.deepEqual(r, { lines: ['ready', 'stopping in order', 'cleanup'], code: 0, signal: null });
});

test('handlers run newest first', async () => {
  const r = await terminated(`onExitCleanup(() => say('older')); onExitCleanup(() => say('newer'));`);
  assert.deepEqual(r.lines, ['ready', 'newer', 'older']);
});
