/**
 * Last-resort cleanup of resources (child processes, lab namespaces) when this Node process ends
 * without calling their async stop/destroy: normal exit, an uncaught exception, or SIGINT,
 * SIGTERM, SIGHUP. Handlers must be synchronous because 'exit' runs no more event-loop turns.
 *
 * Handlers run newest first, so processes started inside a namespace die before the namespace
 * is deleted. The signal listeners exist only while something is registered: a library must
 * not change how the host program reacts to Ctrl-C once nothing is left to clean up. A signal
 * the program listens for itself does not end it (`diskless serve` stops its services in order
 * on SIGTERM), so the handlers then wait for 'exit' and clean up whatever is still running.
 */
const handlers = new Map<number, () => void>();
let nextId = 1;
let installed = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function runAll(): void {
  const pending = [...handlers.entries()].reverse();
  handlers.clear();
  for (const [, fn] of pending) {
    try {
      fn();
    } catch {
      // Keep going: one stuck resource must not leave the others behind.
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  // Ours is installed first (prepended), so every other listener is still counted here, even
  // a once() listener that this very signal will remove.
  if (process.listenerCount(signal) > 1) return;
  runAll();
  uninstall();
  // Without our listener the default action applies again: die by the same signal, so the
  // parent sees the usual exit status.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const s of SIGNALS) process.prependListener(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', runAll);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/** Registers `fn` to run if the process ends first; returns the function that unregisters it. */
export function onExitCleanup(fn: () => void): () => void {
  const id = nextId++;
  handlers.set(id, fn);
  install();
  return () => {
    handlers.delete(id);
    if (handlers.size === 0) uninstall();
  };
}
