import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../images/store/atomic.js';
import { nullLogger, type Logger } from '../log/logger.js';

/** A machine the inventory does not list that asked us for an address or a boot script. */
export interface DiscoveredMachine {
  mac: string;
  /** ISO 8601 times. */
  firstSeen: string;
  lastSeen: string;
  /** DHCP requests and boot script fetches seen from it. */
  count: number;
  /** Option 60, e.g. "PXEClient:Arch:00007:UNDI:003016". */
  vendorClass?: string;
  /** Option 93 by name (archTypeName), e.g. "EfiX64". */
  arch?: string;
  /** Option 77, e.g. "iPXE". */
  userClass?: string;
  lastIp?: string;
}

/** One request from an unknown machine; fields it did not send are left out. */
export interface Sighting {
  mac: string;
  vendorClass?: string | undefined;
  arch?: string | undefined;
  userClass?: string | undefined;
  ip?: string | undefined;
}

export interface DiscoveredStoreOptions {
  /** STATE_DIR/discovered.json */
  path: string;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** A busy or hostile network must not grow the file without bound: the oldest-seen go first. */
  maxEntries?: number;
  /** At most one write per this many milliseconds; sightings in between share it. */
  writeIntervalMs?: number;
  /** Timer factory, so tests drive the coalescing without waiting. */
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
  logger?: Logger;
}

const FORMAT = 1;
export const DEFAULT_MAX_DISCOVERED = 1000;

const realTimer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  // A pending write must not keep a finishing process alive; close() flushes it.
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

export function discoveredPath(stateDir: string): string {
  return join(stateDir, 'discovered.json');
}

/** Reads the file; a missing file is an empty list. */
export async function readDiscovered(path: string): Promise<DiscoveredMachine[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`Cannot read ${path}: not JSON (${(e as Error).message})`);
  }
  const machines = (doc as { machines?: unknown } | null)?.machines;
  if (!Array.isArray(machines)) throw new Error(`Cannot read ${path}: no "machines" list`);
  return machines.filter((m): m is DiscoveredMachine => typeof m?.mac === 'string' && typeof m.lastSeen === 'string');
}

/** What `diskless node discovered` shows: newest first, without machines adopted since. */
export function notInInventory(machines: DiscoveredMachine[], isNode: (mac: string) => boolean): DiscoveredMachine[] {
  return machines.filter((m) => !isNode(m.mac)).sort((a, b) => b.lastSeen.localeCompare(a.lastSeen));
}

/**
 * The server's record of unknown machines. Sightings update memory at once; the file is
 * rewritten (temp + fsync + rename) at most once per writeIntervalMs, since a booting machine
 * sends several requests a second and PXE retries are bursty.
 */
export class DiscoveredStore {
  readonly #path: string;
  readonly #now: () => number;
  readonly #max: number;
  readonly #interval: number;
  readonly #setTimer: NonNullable<DiscoveredStoreOptions['setTimer']>;
  readonly #log: Logger;
  readonly #machines = new Map<string, DiscoveredMachine>();
  #timer: { cancel(): void } | undefined;
  #dirty = false;
  #lastWrite = -Infinity;
  #writing: Promise<void> = Promise.resolve();

  private constructor(options: DiscoveredStoreOptions) {
    this.#path = options.path;
    this.#now = options.now ?? Date.now;
    this.#max = options.maxEntries ?? DEFAULT_MAX_DISCOVERED;
    this.#interval = options.writeIntervalMs ?? 1000;
    this.#setTimer = options.setTimer ?? realTimer;
    this.#log = (options.logger ?? nullLogger).child({ service: 'discovered' });
  }

  /** Loads what an earlier run recorded; an unreadable file is logged and started over. */
  static async open(options: DiscoveredStoreOptions): Promise<DiscoveredStore> {
    const store = new DiscoveredStore(options);
    try {
      const loaded = await readDiscovered(options.path);
      // Oldest sighting first: the map's order is what trimming goes by.
      loaded.sort((a, b) => a.lastSeen.localeCompare(b.lastSeen));
      for (const m of loaded) store.#machines.set(m.mac, m);
    } catch (e) {
      store.#log.log('warn', 'discovered machines not loaded, starting empty', { file: options.path, error: (e as Error).message });
    }
    store.#trim();
    return store;
  }

  record(s: Sighting): void {
    const at = new Date(this.#now()).toISOString();
    const old = this.#machines.get(s.mac);
    const m: DiscoveredMachine = old ?? { mac: s.mac, firstSeen: at, lastSeen: at, count: 0 };
    m.lastSeen = at;
    m.count += 1;
    // A later request may lack an option an earlier one had (iPXE sends no option 60 in some
    // builds): keep what is known rather than forget it.
    if (s.vendorClass !== undefined) m.vendorClass = s.vendorClass;
    if (s.arch !== undefined) m.arch = s.arch;
    if (s.userClass !== undefined) m.userClass = s.userClass;
    if (s.ip !== undefined) m.lastIp = s.ip;
    // Re-inserting keeps the map ordered by last sighting, so trimming drops the oldest.
    this.#machines.delete(s.mac);
    this.#machines.set(s.mac, m);
    this.#trim();
    this.#dirty = true;
    this.#schedule();
  }

  /** Whether this machine was seen (and not dropped since by the cap). */
  has(mac: string): boolean {
    return this.#machines.has(mac);
  }

  get size(): number {
    return this.#machines.size;
  }

  list(isNode: (mac: string) => boolean = () => false): DiscoveredMachine[] {
    return notInInventory([...this.#machines.values()].map((m) => ({ ...m })), isNode);
  }

  /** Writes pending sightings now. */
  async flush(): Promise<void> {
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#write();
  }

  async close(): Promise<void> {
    await this.flush();
  }

  #trim(): void {
    for (const mac of this.#machines.keys()) {
      if (this.#machines.size <= this.#max) break;
      this.#machines.delete(mac);
    }
  }

  #schedule(): void {
    if (this.#timer) return;
    const wait = Math.max(0, this.#lastWrite + this.#interval - this.#now());
    this.#timer = this.#setTimer(() => {
      this.#timer = undefined;
      void this.#write();
    }, wait);
  }

  #write(): Promise<void> {
    // Chained so two writes never race on the rename and the later state always lands last.
    this.#writing = this.#writing.then(async () => {
      if (!this.#dirty) return;
      this.#dirty = false;
      this.#lastWrite = this.#now();
      const doc = { format: FORMAT, machines: [...this.#machines.values()] };
      try {
        await writeFileAtomic(this.#path, `${JSON.stringify(doc, null, 1)}\n`);
      } catch (e) {
        this.#dirty = true;
        this.#log.log('warn', 'discovered machines not saved', { file: this.#path, error: (e as Error).message });
      }
    });
    return this.#writing;
  }
}
