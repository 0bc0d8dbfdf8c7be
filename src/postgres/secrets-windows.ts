import { normalizeMac } from '../net/mac.js';
import { nullLogger, type Logger } from '../log/logger.js';
import { SecretsWindows, type CloseReason, type SecretsWindow, type SecretsWindowStore } from '../identity/secrets-windows.js';
import type { Database } from './database.js';

export const WINDOWS_CHANNEL = 'diskless_secrets_windows';

type Change = { op: 'open'; mac: string; openedAt: number; ip?: string } | { op: 'close'; mac: string };

/**
 * Secrets windows shared by every boot server: a node whose DHCP exchange opened its window on
 * one server may fetch its boot script (and token) and redeem it on another. Each server
 * answers from a copy in memory (the checks stay synchronous); an opening or closing is written
 * to secrets_windows and announced, and the copy is read again whole after a reconnection.
 * Writes are not awaited by the boot path: a window another server has not heard of yet only
 * makes that server's answer the one a missing window gets (the node asks its script again).
 */
export class PgSecretsWindows implements SecretsWindowStore {
  readonly #db: Database;
  readonly #copy: SecretsWindows;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #pending = new Set<Promise<void>>();
  #unlisten: (() => void) | undefined;
  #unresync: (() => void) | undefined;

  private constructor(db: Database, copy: SecretsWindows, windowMs: number, now: () => number, log: Logger) {
    this.#db = db;
    this.#copy = copy;
    this.#windowMs = windowMs;
    this.#now = now;
    this.#log = log;
  }

  static async open(db: Database, o: { windowMs: number; now?: () => number; logger?: Logger }): Promise<PgSecretsWindows> {
    const now = o.now ?? Date.now;
    const copy = await SecretsWindows.open({ windowMs: o.windowMs, now, ...(o.logger ? { logger: o.logger } : {}) });
    const w = new PgSecretsWindows(db, copy, o.windowMs, now, (o.logger ?? nullLogger).child({ service: 'secrets' }));
    w.#unlisten = await db.listen(WINDOWS_CHANNEL, (payload) => w.#heard(payload));
    w.#unresync = db.onResync(() => void w.reload().catch((e: unknown) => w.#log.log('warn', 'secrets windows not reread', { error: String(e) })));
    await w.reload();
    return w;
  }

  /** Reads every window still open from the database (at open and after a reconnection). */
  async reload(): Promise<void> {
    const since = this.#now() - this.#windowMs;
    const rows = await this.#db.query<{ mac: string; opened_at: string; ip: string | null }>(
      'SELECT mac, opened_at, ip FROM secrets_windows WHERE opened_at > $1', [since]);
    for (const r of rows) this.#copy.put({ mac: r.mac, openedAt: Number(r.opened_at), ...(r.ip === null ? {} : { ip: r.ip }) });
  }

  openFor(mac: string, ip?: string): void {
    const m = normalizeMac(mac);
    if (m === undefined) return;
    this.#copy.openFor(m, ip);
    const w = this.#copy.get(m);
    if (w === undefined) return;
    this.#write(
      `WITH w AS (INSERT INTO secrets_windows (mac, opened_at, ip) VALUES ($1, $2, $3)
         ON CONFLICT (mac) DO UPDATE SET opened_at = EXCLUDED.opened_at, ip = EXCLUDED.ip)
       SELECT pg_notify($4, $5)`,
      [m, w.openedAt, w.ip ?? null, WINDOWS_CHANNEL, JSON.stringify({ op: 'open', mac: m, openedAt: w.openedAt, ...(w.ip === undefined ? {} : { ip: w.ip }) } satisfies Change)]);
  }

  get(mac: string): SecretsWindow | undefined {
    return this.#copy.get(mac);
  }

  close(mac: string, reason: CloseReason): boolean {
    const m = normalizeMac(mac);
    if (m === undefined || !this.#copy.close(m, reason)) return false;
    this.#write('WITH d AS (DELETE FROM secrets_windows WHERE mac = $1) SELECT pg_notify($2, $3)',
      [m, WINDOWS_CHANNEL, JSON.stringify({ op: 'close', mac: m } satisfies Change)]);
    return true;
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }

  /** Stops following the other servers (stop). */
  detach(): void {
    this.#unlisten?.();
    this.#unresync?.();
  }

  #write(sql: string, values: unknown[]): void {
    const p = this.#db.query(sql, values).then(() => {}, (e: unknown) => {
      this.#log.log('warn', 'secrets window not saved in the database', { error: String(e) });
    });
    this.#pending.add(p);
    void p.then(() => this.#pending.delete(p));
  }

  #heard(payload: string): void {
    let c: Change;
    try {
      c = JSON.parse(payload) as Change;
    } catch {
      return;
    }
    const mac = normalizeMac(String(c.mac));
    if (mac === undefined) return;
    if (c.op === 'close') this.#copy.forget(mac);
    else if (typeof c.openedAt === 'number') {
      // Our own announcement comes back too; a newer opening here is kept.
      const known = this.#copy.get(mac);
      if (known === undefined || known.openedAt < c.openedAt) this.#copy.put({ mac, openedAt: c.openedAt, ...(typeof c.ip === 'string' ? { ip: c.ip } : {}) });
    }
  }
}
