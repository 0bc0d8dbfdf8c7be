import type { Timers } from '../timers.js';

/** A hand-stepped clock: timers fire only inside `advance`. */
export class FakeTimers implements Timers {
  #now = 0;
  #nextId = 1;
  readonly #pending = new Map<number, { at: number; fn: () => void }>();

  now(): number { return this.#now; }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#pending.set(id, { at: this.#now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as number);
  }

  get pendingCount(): number { return this.#pending.size; }

  /** Moves time forward, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#pending) if (entry[1].at <= until && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.#pending.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
    }
    this.#now = until;
  }
}
