import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from './atomic.js';

export interface RunningRecord {
  image: string;
  version: string;
  /** When the server handed this version to the node (ISO 8601). */
  since: string;
}

/**
 * Which stored version each node was last given, kept in STATE/running-versions.json by the boot
 * server and read by `image rm` and GC. A node runs the version of its last boot script until
 * it asks for the next one, so one record per node is the whole truth the server can know;
 * a machine switched off for good still holds its version until it leaves the inventory.
 */
export class RunningVersions {
  #records = new Map<string, RunningRecord>();
  #loaded = false;
  #writing: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  static async read(path: string): Promise<RunningVersions> {
    const r = new RunningVersions(path);
    await r.#load();
    return r;
  }

  async #load(): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new Error(`${this.path} is not valid JSON (${(e as Error).message}); remove it and reboot the nodes to rebuild it`);
    }
    for (const [mac, rec] of Object.entries((data as { nodes?: Record<string, RunningRecord> }).nodes ?? {})) {
      if (typeof rec?.image === 'string' && typeof rec.version === 'string') this.#records.set(mac, rec);
    }
  }

  /** Records and persists; writes are chained so the file always holds the latest state. */
  async record(mac: string, image: string, version: string): Promise<void> {
    await this.#load();
    const prev = this.#records.get(mac);
    if (prev?.image === image && prev.version === version) return;
    this.#records.set(mac, { image, version, since: this.now().toISOString() });
    const snapshot = JSON.stringify({ nodes: Object.fromEntries(this.#records) }, null, 2) + '\n';
    this.#writing = this.#writing.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      await writeFileAtomic(this.path, snapshot);
    });
    await this.#writing;
  }

  /** MACs running NAME@VERSION, restricted to `known` (nodes still in the inventory) when given. */
  runners(image: string, version: string, known?: ReadonlySet<string>): string[] {
    return [...this.#records]
      .filter(([mac, r]) => r.image === image && r.version === version && (known === undefined || known.has(mac)))
      .map(([mac]) => mac);
  }

  all(): ReadonlyMap<string, RunningRecord> {
    return this.#records;
  }
}

export function runningVersionsPath(stateDir: string): string {
  return `${stateDir}/running-versions.json`;
}
