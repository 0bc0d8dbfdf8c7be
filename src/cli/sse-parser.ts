/** One Server-Sent Events message (HTML Living Standard, "Parsing an event stream"). */
export interface SseMessage {
  /** The last event id seen so far in the stream (ids persist across messages), '' for none. */
  id: string;
  /** `event:` field, "message" when absent. */
  event: string;
  data: string;
}

/**
 * Incremental parser for text/event-stream: push decoded text as it arrives, get complete
 * messages back. Lines end in CRLF, LF or CR (a CR at the end of one chunk and an LF at the
 * start of the next are one line end); comment lines (": heartbeat") are skipped; a message is
 * dispatched at a blank line and only if it had data. Pure: no sockets, so tests feed it bytes.
 */
export class SseParser {
  /** What a reconnect sends as Last-Event-ID: only ids of complete messages count. */
  lastEventId = '';
  /** The server's `retry:` advice in milliseconds, if it gave one. */
  retryMs: number | undefined;
  #buffer = '';
  #skipLf = false;
  #data: string[] = [];
  #event = '';
  /** The id field read so far; committed at the blank line, so a cut-off message is asked for again. */
  #idBuffer = '';

  push(text: string): SseMessage[] {
    const out: SseMessage[] = [];
    let s = this.#buffer + text;
    if (this.#skipLf && s.startsWith('\n')) s = s.slice(1);
    this.#skipLf = false;
    let start = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c !== '\n' && c !== '\r') continue;
      this.#line(s.slice(start, i), out);
      if (c === '\r') {
        if (i + 1 < s.length) {
          if (s[i + 1] === '\n') i++;
        } else this.#skipLf = true;
      }
      start = i + 1;
    }
    this.#buffer = s.slice(start);
    return out;
  }

  #line(line: string, out: SseMessage[]): void {
    if (line === '') {
      this.lastEventId = this.#idBuffer;
      if (this.#data.length) out.push({ id: this.lastEventId, event: this.#event || 'message', data: this.#data.join('\n') });
      this.#data = [];
      this.#event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.#data.push(value);
        break;
      case 'event':
        this.#event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.#idBuffer = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      // Other fields are ignored, as the standard says.
    }
  }
}
