import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` until it holds; fails naming `what` once `ms` passed. The deadline is a bound
 * for a hung test, not a measurement: a loaded machine only makes the wait longer.
 */
export async function waitUntil(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** waitUntil for a check that must ask something asynchronously (a connection, a query); it may throw to give up. */
export async function waitUntilAsync(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}
