import { nullLogger, type Logger } from '../log/logger.js';
import type { Database } from './database.js';

export const INVENTORY_CHANNEL = 'diskless_inventory';

/**
 * The inventory every boot server shares (the YAML text of the config's inventory keys), kept
 * in memory as last read: read at open, again on each change announced on diskless_inventory
 * and after a reconnection. Edits read and write the row in one transaction with it locked,
 * so two admins editing through two servers each see the other's edit.
 */
export class PgInventory {
  readonly #db: Database;
  readonly #log: Logger;
  readonly #changed = new Set<() => void>();
  #text: string | undefined;
  #revision = 0;
  #unlisten: (() => void) | undefined;
  #unresync: (() => void) | undefined;

  private constructor(db: Database, log: Logger) {
    this.#db = db;
    this.#log = log;
  }

  static async open(db: Database, o: { logger?: Logger } = {}): Promise<PgInventory> {
    const inv = new PgInventory(db, (o.logger ?? nullLogger).child({ service: 'config' }));
    inv.#unlisten = await db.listen(INVENTORY_CHANNEL, () => void inv.#reread());
    inv.#unresync = db.onResync(() => void inv.#reread());
    await inv.reload();
    return inv;
  }

  /** The inventory's YAML as last read; undefined while the database holds none (the config file's own then). */
  get text(): string | undefined {
    return this.#text;
  }

  /** `fn` runs after each change read from the database (another server's or this one's). */
  onChange(fn: () => void): () => void {
    this.#changed.add(fn);
    return () => this.#changed.delete(fn);
  }

  /** Reads the row; true when it changed. */
  async reload(): Promise<boolean> {
    const row = (await this.#db.query<{ yaml: string; revision: string }>('SELECT yaml, revision FROM inventory WHERE id = 1'))[0];
    if (row === undefined || Number(row.revision) === this.#revision) return false;
    this.#text = row.yaml;
    this.#revision = Number(row.revision);
    return true;
  }

  /**
   * Replaces the inventory with `edit(current)` (current: undefined when the database holds
   * none), in one transaction with the row locked; announced to every server at commit.
   * `edit` throws to refuse: nothing is written.
   */
  async edit(edit: (current: string | undefined) => string | Promise<string>): Promise<string> {
    const next = await this.#db.transaction(async (q) => {
      const row = (await q.query<{ yaml: string }>('SELECT yaml FROM inventory WHERE id = 1 FOR UPDATE'))[0];
      const yaml = await edit(row?.yaml);
      await q.query(
        `INSERT INTO inventory (id, yaml, revision) VALUES (1, $1, 1)
         ON CONFLICT (id) DO UPDATE SET yaml = EXCLUDED.yaml, revision = inventory.revision + 1, updated_at = now()`,
        [yaml]);
      await q.query('SELECT pg_notify($1, $2)', [INVENTORY_CHANNEL, '']);
      return yaml;
    });
    await this.#reread();
    return next;
  }

  detach(): void {
    this.#unlisten?.();
    this.#unresync?.();
  }

  async #reread(): Promise<void> {
    let changed: boolean;
    try {
      changed = await this.reload();
    } catch (e) {
      this.#log.log('warn', 'inventory not reread from the database', { error: String(e) });
      return;
    }
    if (!changed) return;
    for (const fn of this.#changed) {
      try {
        fn();
      } catch (e) {
        this.#log.log('error', 'inventory change handler failed', { error: String(e) });
      }
    }
  }
}
