import { readStateFile, StateFileWriter, type StateFileFormat } from '../../files/state-file.js';
import { STORE_VERSION_PATTERN } from './image-store.js';

export interface VersionPin {
  image: string;
  version: string;
  /** When it was set (ISO 8601). */
  since: string;
  /** Who set it, e.g. "rollout 20260101-120000-ab12". */
  by: string;
}

/** version-pins.json: `{ "format": 1, "nodes": { MAC: pin } }`. */
const PINS_FILE: StateFileFormat<Map<string, VersionPin>> = {
  what: 'version pins',
  version: 1,
  remedy: 'fix or remove it (nodes then boot the published version of their image)',
  decode(doc) {
    const nodes = doc.nodes;
    if (typeof nodes !== 'object' || nodes === null || Array.isArray(nodes)) throw new Error('"nodes" is not a map');
    const pins = new Map<string, VersionPin>();
    for (const [mac, p] of Object.entries(nodes as Record<string, Partial<VersionPin> | null>)) {
      if (typeof p?.image !== 'string' || typeof p.version !== 'string' || !STORE_VERSION_PATTERN.test(p.version)) throw new Error(`the pin of ${mac} is not {image, version}`);
      pins.set(mac, { image: p.image, version: p.version, since: String(p.since ?? ''), by: String(p.by ?? '') });
    }
    return pins;
  },
  encode: (pins) => ({ nodes: Object.fromEntries(pins) }),
};

/**
 * Where the pins are kept: STATE/version-pins.json (VersionPins), or the state database every
 * boot server shares (PgVersionPins in src/postgres/version-pins.ts), so a pin one server's
 * rollout makes is what every server's boot scripts name.
 */
export interface VersionPinStore {
  /** The version `mac` is pinned to for `image`, if any. */
  get(mac: string, image: string): string | undefined;
  /** Pins (or with null, unpins) and resolves once that is stored. */
  set(mac: string, image: string, version: string | null, by: string): Promise<void>;
  /** MACs pinned to IMAGE@VERSION. */
  pinnedTo(image: string, version: string): string[];
  all(): ReadonlyMap<string, VersionPin>;
  flush(): Promise<void>;
}

/** MACs of `pins` pinned to IMAGE@VERSION: the one filter both stores use. */
export function pinnedTo(pins: ReadonlyMap<string, VersionPin>, image: string, version: string): string[] {
  return [...pins].filter(([, p]) => p.image === image && p.version === version).map(([mac]) => mac);
}

/**
 * The stored version a node boots instead of its image's published one (STATE/version-pins.json).
 * A rollout pins each node it moves, and pins it back when its boot fails; the boot tree reads
 * the pin when it renders the node's script, so kernel, initrd and root all name that version.
 * A pin holds for one image: a node moved to a profile of another image boots that image's
 * published version. `image rm` and GC keep pinned versions.
 */
export class VersionPins implements VersionPinStore {
  readonly #pins = new Map<string, VersionPin>();
  readonly #file: StateFileWriter<Map<string, VersionPin>>;

  private constructor(
    readonly path: string,
    private readonly now: () => Date,
  ) {
    this.#file = new StateFileWriter({ path, format: PINS_FILE, snapshot: () => this.#pins });
  }

  static async read(path: string, now: () => Date = () => new Date()): Promise<VersionPins> {
    const pins = new VersionPins(path, now);
    for (const [mac, p] of (await readStateFile(path, PINS_FILE)) ?? []) pins.#pins.set(mac, p);
    return pins;
  }

  /** The version `mac` is pinned to for `image`, if any. */
  get(mac: string, image: string): string | undefined {
    const p = this.#pins.get(mac);
    return p?.image === image ? p.version : undefined;
  }

  /** Pins (or with null, unpins) and resolves once that is on disk. */
  async set(mac: string, image: string, version: string | null, by: string): Promise<void> {
    if (version === null) {
      if (!this.#pins.delete(mac)) return;
    } else {
      const p = this.#pins.get(mac);
      if (p?.image === image && p.version === version) return;
      this.#pins.set(mac, { image, version, since: this.now().toISOString(), by });
    }
    this.#file.changed();
    await this.#file.commit();
  }

  /** MACs pinned to IMAGE@VERSION. */
  pinnedTo(image: string, version: string): string[] {
    return pinnedTo(this.#pins, image, version);
  }

  all(): ReadonlyMap<string, VersionPin> {
    return this.#pins;
  }

  flush(): Promise<void> {
    return this.#file.flush();
  }
}

export function versionPinsPath(stateDir: string): string {
  return `${stateDir}/version-pins.json`;
}
