import { join } from 'node:path';
import { readStateFile, StateFileWriter, type SetTimer, type StateFileFormat } from '../files/state-file.js';
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
  setTimer?: SetTimer;
  logger?: Logger;
}

export const DEFAULT_MAX_DISCOVERED = 1000;

/** discovered.json: `{ "format": 1, "machines": [...] }`, oldest sighting first. */
const DISCOVERED_FILE: StateFileFormat<DiscoveredMachine[]> = {
  what: 'discovered machines',
  version: 1,
  decode(doc) {
    if (!Array.isArray(doc.machines)) throw new Error('no "machines" list');
    return (doc.machines as Array<Partial<DiscoveredMachine> | null>).filter((m): m is DiscoveredMachine => typeof m?.mac === 'string' && typeof m.lastSeen === 'string');
  },
  encode: (machines) => ({ machines }),
};

export function discoveredPath(stateDir: string): string {
  return join(stateDir, 'discovered.json');
}

/** Reads the file; a missing file is an empty list. */
export async function readDiscovered(path: string): Promise<DiscoveredMachine[]> {
  return (await readStateFile(path, DISCOVERED_FILE)) ?? [];
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
/** Where sightings are kept: this file, or the state database several servers share. */
export interface DiscoveredSource {
  record(s: Sighting): void;
  has(mac: string): boolean;
  list(isNode?: (mac: string) => boolean): DiscoveredMachine[];
  close(): Promise<void>;
}

/**
 * Merges a sighting into the machines known, ordered oldest sighting first, and drops the
 * oldest beyond `max`. A later request may lack an option an earlier one had (iPXE sends no
 * option 60 in some builds): what is known is kept rather than forgotten.
 */
export function recordSighting(machines: Map<string, DiscoveredMachine>, s: Sighting, at: string, max: number): void {
  const m: DiscoveredMachine = machines.get(s.mac) ?? { mac: s.mac, firstSeen: at, lastSeen: at, count: 0 };
  m.lastSeen = at;
  m.count += 1;
  if (s.vendorClass !== undefined) m.vendorClass = s.vendorClass;
  if (s.arch !== undefined) m.arch = s.arch;
  if (s.userClass !== undefined) m.userClass = s.userClass;
  if (s.ip !== undefined) m.lastIp = s.ip;
  // Re-inserting keeps the map ordered by last sighting, so trimming drops the oldest.
  machines.delete(s.mac);
  machines.set(s.mac, m);
  for (const mac of machines.keys()) {
    if (machines.size <= max) break;
    machines.delete(mac);
  }
}

export class DiscoveredStore implements DiscoveredSource {
  readonly #now: () => number;
  readonly #max: number;
  readonly #log: Logger;
  readonly #machines = new Map<string, DiscoveredMachine>();
  readonly #file: StateFileWriter<DiscoveredMachine[]>;

  private constructor(options: DiscoveredStoreOptions) {
    this.#now = options.now ?? Date.now;
    this.#max = options.maxEntries ?? DEFAULT_MAX_DISCOVERED;
    this.#log = (options.logger ?? nullLogger).child({ service: 'discovered' });
    this.#file = new StateFileWriter({
      path: options.path,
      format: DISCOVERED_FILE,
      snapshot: () => [...this.#machines.values()],
      minIntervalMs: options.writeIntervalMs ?? 1000,
      now: this.#now,
      ...(options.setTimer ? { setTimer: options.setTimer } : {}),
      logger: this.#log,
    });
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
    recordSighting(this.#machines, s, new Date(this.#now()).toISOString(), this.#max);
    this.#file.changed();
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
  flush(): Promise<void> {
    return this.#file.flush();
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
}
