import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A full garbage collection, when one can be had: `global.gc` under --expose-gc, else the flag
 * switched on at run time (scripts/run-tests.mjs passes no such flag to node). Undefined when
 * neither works, and callers then allow a wider margin.
 */
function findGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

const gc = findGc();

/** Whether `settledHeapUsed` collects garbage for real (margins can then be tight). */
export const canCollectGarbage = gc !== undefined;

/**
 * `heapUsed` once pending callbacks have run and garbage is collected: a few rounds, since
 * closing sockets and finalizers release memory over several turns of the event loop.
 */
export async function settledHeapUsed(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc?.();
  }
  return process.memoryUsage().heapUsed;
}

export const MiB = 1024 * 1024;

/**
 * `settledHeapUsed` plus memory outside the JS heap (Buffers): data queued on sockets can sit
 * in either, depending on whether it was written as a string or as bytes.
 */
export async function settledMemoryUsed(): Promise<number> {
  const heap = await settledHeapUsed();
  return heap + process.memoryUsage().external;
}
