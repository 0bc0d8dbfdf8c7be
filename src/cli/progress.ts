/** Where a progress bar draws: a terminal (redrawn in place) or anything else (plain lines). */
export interface ProgressOutput {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** What is being done, e.g. "initrd: writing the archive". */
  label: string;
  /** bytes: shown as MiB; steps: as counts. */
  unit?: 'bytes' | 'steps';
  /** Default process.stderr, so stdout stays for results. */
  output?: ProgressOutput;
  now?: () => number;
}

const REDRAW_MS = 100;

/**
 * A modest progress bar for long steps whose size is known. On a terminal one line is redrawn
 * (at most every 100 ms); into a pipe or a log it prints a plain line at each further 25%, so
 * logs stay short and readable.
 */
export class ProgressBar {
  readonly #o: Required<Omit<ProgressOptions, 'output'>> & { output: ProgressOutput };
  #lastDraw = -Infinity;
  #lastQuarter = -1;
  #drawn = false;

  constructor(options: ProgressOptions) {
    this.#o = { unit: 'steps', output: process.stderr, now: Date.now, ...options };
  }

  update(done: number, total: number): void {
    const o = this.#o;
    const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
    if (o.output.isTTY) {
      const t = o.now();
      if (t - this.#lastDraw < REDRAW_MS && fraction < 1) return;
      this.#lastDraw = t;
      o.output.write(`\r${this.#line(done, total, fraction)}\x1b[K`);
      this.#drawn = true;
      return;
    }
    const quarter = Math.floor(fraction * 4);
    if (quarter <= this.#lastQuarter) return;
    this.#lastQuarter = quarter;
    o.output.write(`${o.label}: ${Math.floor(fraction * 100)}% (${this.#amount(done, total)})\n`);
  }

  /** Ends the bar's line on a terminal; plain output needs nothing. */
  finish(): void {
    if (this.#drawn) this.#o.output.write('\n');
    this.#drawn = false;
  }

  #line(done: number, total: number, fraction: number): string {
    const text = `${this.#o.label} ${String(Math.floor(fraction * 100)).padStart(3)}% ${this.#amount(done, total)}`;
    const width = Math.max(10, Math.min(40, (this.#o.output.columns ?? 80) - text.length - 4));
    const full = Math.round(fraction * width);
    return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${text}`;
  }

  #amount(done: number, total: number): string {
    if (this.#o.unit === 'bytes') return `${(done / 1048576).toFixed(1)}/${(total / 1048576).toFixed(1)} MiB`;
    return `${done}/${total}`;
  }
}
