/**
 * Gathers the lines written during one turn of the event loop into one write. `process.stderr`
 * is synchronous for files and pipes, so each log line was a write(2) of its own: a DHCP exchange
 * logs four, and in a 500-client storm they were 15–20 % of the server's busy time. Lines keep
 * their order; `flush` writes what is pending at once (at exit, so nothing is lost).
 */
export interface TurnBatch {
  write(line: string): void;
  flush(): void;
}

export function batchPerTurn(
  write: (chunk: string) => void,
  schedule: (fn: () => void) => void = (fn) => void setImmediate(fn),
): TurnBatch {
  let pending: string[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const chunk = pending.join('');
    pending = [];
    write(chunk);
  };
  return {
    write(line) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        schedule(flush);
      }
    },
    flush,
  };
}
