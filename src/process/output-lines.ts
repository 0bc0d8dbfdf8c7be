import { StringDecoder } from 'node:string_decoder';

/**
 * Splits a byte stream into lines for a progress hook. Blank lines are dropped; a carriage return
 * ends a line too (progress bars redraw with it). `flush()` passes on an unterminated last line.
 */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer): void; flush(): void } {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  const emit = (l: string): void => {
    if (l.trim()) onLine(l);
  };
  return {
    push(chunk) {
      const lines = (partial + decoder.write(chunk)).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const l of lines) emit(l);
    },
    flush() {
      emit(partial + decoder.end());
      partial = '';
    },
  };
}
