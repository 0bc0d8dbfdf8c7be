import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BootEvent } from '../events/boot-event.js';
import type { ApiDeps } from './deps.js';

export interface StreamOptions {
  /** Resume after this seq (Last-Event-ID, or ?since=); undefined starts with live events only. */
  afterSeq: number | undefined;
  mac: string | undefined;
  heartbeatMs: number;
}

/**
 * Server-Sent Events: each event as `id: SEQ` + `data: JSON`, so a reconnecting EventSource
 * sends Last-Event-ID and gets exactly what it missed (from what the store still holds), then
 * live events. Subscribing before replaying and skipping seqs already sent leaves no gap and
 * no duplicate between the two. A comment line every heartbeatMs keeps proxies from timing out.
 */
export function streamEvents(req: IncomingMessage, res: ServerResponse, events: ApiDeps['events'], opts: StreamOptions): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 3000\n\n');
  let lastSent = opts.afterSeq ?? events.lastSeq;
  let replaying = true;
  const pending: BootEvent[] = [];
  const send = (e: BootEvent) => {
    if (e.seq <= lastSent || (opts.mac !== undefined && e.mac !== opts.mac)) return;
    lastSent = e.seq;
    res.write(`id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`);
  };
  const unsubscribe = events.subscribe((e) => (replaying ? pending.push(e) : send(e)));
  const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), opts.heartbeatMs);
  const stop = () => {
    clearInterval(heartbeat);
    unsubscribe();
  };
  req.on('close', stop);
  res.on('close', stop);
  res.on('error', stop);

  if (opts.afterSeq !== undefined) {
    for (;;) {
      const page = events.query({ afterSeq: lastSent, limit: 1000, ...(opts.mac === undefined ? {} : { mac: opts.mac }) });
      if (!page.length) break;
      for (const e of page) send(e);
      lastSent = Math.max(lastSent, page[page.length - 1]!.seq);
    }
  }
  replaying = false;
  for (const e of pending.splice(0)) send(e);
}
