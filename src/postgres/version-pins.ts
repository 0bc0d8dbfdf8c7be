import { STORE_VERSION_PATTERN } from '../images/store/image-store.js';
import { pinnedTo, type VersionPin, type VersionPinStore } from '../images/store/version-pins.js';
import { nullLogger, type Logger } from '../log/logger.js';
import type { Database } from './database.js';
import { TableMirror } from './mirror.js';

export const PINS_CHANNEL = 'diskless_version_pins';

/**
 * Version pins in the state database (table version_pins), so a pin one server's rollout sets
 * is what every server's boot scripts name: a copy in memory (boot scripts read it
 * synchronously), each change written and announced in one statement, the announcements of
 * the other servers applied to the copy, and the copy read again whole after a reconnection.
 */
export class PgVersionPins implements VersionPinStore {
  readonly #db: Database;
  readonly #mirror: TableMirror<VersionPin>;
  readonly #now: () => Date;

  private constructor(db: Database, mirror: TableMirror<VersionPin>, now: () => Date) {
    this.#db = db;
    this.#mirror = mirror;
    this.#now = now;
  }

  static async open(db: Database, o: { now?: () => Date; logger?: Logger } = {}): Promise<PgVersionPins> {
    const mirror = await TableMirror.open<VersionPin>(db, {
      channel: PINS_CHANNEL,
      what: 'version pins',
      log: (o.logger ?? nullLogger).child({ service: 'rollout' }),
      read: async () => {
        const rows = await db.query<{ mac: string; image: string; version: string; since: string; pinned_by: string }>('SELECT mac, image, version, since, pinned_by FROM version_pins');
        return new Map(rows.map((r) => [r.mac, { image: r.image, version: r.version, since: r.since, by: r.pinned_by }]));
      },
      apply: heard,
    });
    return new PgVersionPins(db, mirror, o.now ?? (() => new Date()));
  }

  reload(): Promise<void> {
    return this.#mirror.reload();
  }

  get #pins(): Map<string, VersionPin> {
    return this.#mirror.rows;
  }

  get(mac: string, image: string): string | undefined {
    const p = this.#pins.get(mac);
    return p?.image === image ? p.version : undefined;
  }

  async set(mac: string, image: string, version: string | null, by: string): Promise<void> {
    if (version === null) {
      if (!this.#pins.has(mac)) return;
      await this.#db.query(
        `WITH d AS (DELETE FROM version_pins WHERE mac = $1) SELECT pg_notify($2, $3)`,
        [mac, PINS_CHANNEL, JSON.stringify({ mac, pin: null })]);
      this.#pins.delete(mac);
      return;
    }
    if (!STORE_VERSION_PATTERN.test(version)) throw new Error(`Cannot pin ${mac} to ${JSON.stringify(version)}: not a stored version`);
    const prev = this.#pins.get(mac);
    if (prev?.image === image && prev.version === version) return;
    const pin: VersionPin = { image, version, since: this.#now().toISOString(), by };
    await this.#db.query(
      `WITH w AS (INSERT INTO version_pins (mac, image, version, since, pinned_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (mac) DO UPDATE SET image = EXCLUDED.image, version = EXCLUDED.version, since = EXCLUDED.since, pinned_by = EXCLUDED.pinned_by)
       SELECT pg_notify($6, $7)`,
      [mac, image, version, pin.since, by, PINS_CHANNEL, JSON.stringify({ mac, pin })]);
    // Kept only once stored: a boot script never names a pin the other servers do not have.
    this.#pins.set(mac, pin);
  }

  pinnedTo(image: string, version: string): string[] {
    return pinnedTo(this.#pins, image, version);
  }

  all(): ReadonlyMap<string, VersionPin> {
    return this.#pins;
  }

  /** Every change is stored before set() resolves. */
  async flush(): Promise<void> {}

  detach(): void {
    void this.#mirror.detach();
  }
}

/** Another server's change of a pin, as announced. */
function heard(payload: string, pins: Map<string, VersionPin>): void {
  let m: { mac?: unknown; pin?: Partial<VersionPin> | null };
  try {
    m = JSON.parse(payload) as typeof m;
  } catch {
    return;
  }
  if (typeof m.mac !== 'string') return;
  const p = m.pin;
  if (p === null) pins.delete(m.mac);
  else if (typeof p?.image === 'string' && typeof p.version === 'string' && typeof p.since === 'string' && typeof p.by === 'string') {
    pins.set(m.mac, { image: p.image, version: p.version, since: p.since, by: p.by });
  }
}
