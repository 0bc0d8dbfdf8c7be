import { readStateFile, StateFileWriter, type StateFileFormat } from '../../files/state-file.js';

export interface RunningRecord {
  image: string;
  version: string;
  /** When the server handed this version to the node (ISO 8601). */
  since: string;
}

/**
 * running-versions.json: `{ "format": 1, "nodes": { MAC: record } }`; files from before the
 * format field are the same layout. Records that make no sense are skipped.
 */
const RUNNING_FILE: StateFileFormat<Map<string, RunningRecord>> = {
  what: 'running versions',
  version: 1,
  unversionedIsCurrent: true,
  remedy: 'remove it and reboot the nodes to rebuild it',
  decode(doc) {
    const nodes = doc.nodes ?? {};
    if (typeof nodes !== 'object' || nodes === null || Array.isArray(nodes)) throw new Error('"nodes" is not a map');
    const records = new Map<string, RunningRecord>();
    for (const [mac, rec] of Object.entries(nodes as Record<string, Partial<RunningRecord> | null>)) {
      if (typeof rec?.image === 'string' && typeof rec.version === 'string') records.set(mac, rec as RunningRecord);
    }
    return records;
  },
  encode: (records) => ({ nodes: Object.fromEntries(records) }),
};

/** Which stored version each node was last given: this file, or the state database's table. */
export interface RunningVersionStore {
  /** Records (and stores) that the server handed `mac` IMAGE@VERSION. */
  record(mac: string, image: string, version: string): Promise<void>;
  /** MACs running NAME@VERSION, restricted to `known` (nodes still in the inventory) when given. */
  runners(image: string, version: string, known?: ReadonlySet<string>): string[];
  all(): ReadonlyMap<string, RunningRecord>;
}

/**
 * Which stored version each node was last given, kept in STATE/running-versions.json by the boot
 * server and read by `image rm` and GC. A node runs the version of its last boot script until
 * it asks for the next one, so one record per node is the whole truth the server can know;
 * a machine switched off for good still holds its version until it leaves the inventory.
 */
export class RunningVersions implements RunningVersionStore {
  readonly #records = new Map<string, RunningRecord>();
  #loaded = false;
  readonly #file: StateFileWriter<Map<string, RunningRecord>>;

  constructor(
    readonly path: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.#file = new StateFileWriter({ path, format: RUNNING_FILE, snapshot: () => this.#records });
  }

  static async read(path: string): Promise<RunningVersions> {
    const r = new RunningVersions(path);
    await r.#load();
    return r;
  }

  async #load(): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    for (const [mac, rec] of (await readStateFile(this.path, RUNNING_FILE)) ?? []) this.#records.set(mac, rec);
  }

  /** Records and persists: resolves once the record is on disk (records made together share a write). */
  async record(mac: string, image: string, version: string): Promise<void> {
    await this.#load();
    const prev = this.#records.get(mac);
    if (prev?.image === image && prev.version === version) return;
    this.#records.set(mac, { image, version, since: this.now().toISOString() });
    this.#file.changed();
    await this.#file.commit();
  }

  /** MACs running NAME@VERSION, restricted to `known` (nodes still in the inventory) when given. */
  runners(image: string, version: string, known?: ReadonlySet<string>): string[] {
    return runnersOf(this.#records, image, version, known);
  }

  all(): ReadonlyMap<string, RunningRecord> {
    return this.#records;
  }
}

/** MACs in `records` running NAME@VERSION, restricted to `known` when given. */
export function runnersOf(records: ReadonlyMap<string, RunningRecord>, image: string, version: string, known?: ReadonlySet<string>): string[] {
  return [...records]
    .filter(([mac, r]) => r.image === image && r.version === version && (known === undefined || known.has(mac)))
    .map(([mac]) => mac);
}

export function runningVersionsPath(stateDir: string): string {
  return `${stateDir}/running-versions.json`;
}
