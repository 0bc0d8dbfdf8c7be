import { StoreError, type CopyOutcome, type ImageCatalog, type ImageSummary, type Manifest, type PublishedPointer } from '../images/store/image-store.js';
import { nullLogger, type Logger } from '../log/logger.js';
import type { Database, Queryable } from './database.js';

export const IMAGES_CHANNEL = 'diskless_images';

/** Newer history than this is useless for rollback (the file store keeps as many). */
const MAX_PREVIOUS = 32;

type PointerRow = {
  name: string;
  version: string;
  previous: string[];
  published_at: string;
};

/**
 * Every image's versions and published pointer in the state database, shared by every boot
 * server. Pointers are kept in a copy in memory (a boot script reads one without a round trip,
 * and keeps reading the last one while the database is away), updated from the row each
 * publish announces on diskless_images, read whole again after a reconnection. Publish and
 * rollback read and write the pointer in one transaction with the row locked, so two admins
 * publishing at once through two servers each leave a consistent history.
 */
export class PgImageCatalog implements ImageCatalog {
  readonly #db: Database;
  readonly #server: string;
  readonly #log: Logger;
  readonly #pointers = new Map<string, PublishedPointer>();
  readonly #published = new Set<(name: string, version: string) => void>();
  readonly #changed = new Set<(name: string | undefined) => void>();
  #unlisten: (() => void) | undefined;
  #unresync: (() => void) | undefined;

  private constructor(db: Database, server: string, log: Logger) {
    this.#db = db;
    this.#server = server;
    this.#log = log;
  }

  /** `server`: this server's address, under which its copies are recorded. */
  static async open(db: Database, o: { server: string; logger?: Logger }): Promise<PgImageCatalog> {
    const c = new PgImageCatalog(db, o.server, (o.logger ?? nullLogger).child({ service: 'images' }));
    c.#unlisten = await db.listen(IMAGES_CHANNEL, (payload) => void c.#heard(payload));
    c.#unresync = db.onResync(() => void c.reload().then(() => c.#tellChanged(undefined), (e: unknown) => c.#log.log('warn', 'image pointers not reread', { error: String(e) })));
    await c.reload();
    return c;
  }

  /** `fn` is told of every publish and rollback, this server's or another's. */
  onPublished(fn: (name: string, version: string) => void): () => void {
    this.#published.add(fn);
    return () => this.#published.delete(fn);
  }

  /**
   * `fn` is told of every change announced for an image (a publish, a rollback, a version
   * removed), with its name, and with none after a reconnection (anything may have changed).
   */
  onChanged(fn: (name: string | undefined) => void): () => void {
    this.#changed.add(fn);
    return () => this.#changed.delete(fn);
  }

  /** Every pointer, as this server's copy holds it. */
  pointers(): ReadonlyMap<string, PublishedPointer> {
    return this.#pointers;
  }

  async reload(): Promise<void> {
    const rows = await this.#db.query<PointerRow>('SELECT name, version, previous, published_at FROM image_pointers');
    const before = new Map(this.#pointers);
    this.#pointers.clear();
    for (const r of rows) this.#pointers.set(r.name, toPointer(r));
    for (const [name, p] of this.#pointers) if (before.get(name)?.version !== p.version) this.#tell(name, p.version);
  }

  async pointer(name: string): Promise<PublishedPointer | null> {
    return this.#pointers.get(name) ?? null;
  }

  async manifest(name: string, version: string): Promise<Manifest | undefined> {
    const rows = await this.#db.query<{ manifest: Manifest }>('SELECT manifest FROM image_versions WHERE name = $1 AND version = $2', [name, version]);
    return rows[0]?.manifest;
  }

  async summaries(): Promise<ImageSummary[]> {
    const versions = await this.#db.query<{ name: string; manifest: Manifest }>('SELECT name, manifest FROM image_versions ORDER BY name, created, version');
    const pointers = await this.#db.query<PointerRow>('SELECT name, version, previous, published_at FROM image_pointers');
    const byName = new Map<string, ImageSummary>();
    for (const v of versions) {
      let s = byName.get(v.name);
      if (!s) {
        const p = pointers.find((r) => r.name === v.name);
        s = { name: v.name, published: p?.version ?? null, publishedAt: p?.published_at ?? null, previous: p?.previous ?? [], versions: [] };
        byName.set(v.name, s);
      }
      s.versions.push(v.manifest);
    }
    return [...byName.values()];
  }

  async addVersion(m: Manifest): Promise<void> {
    await this.#db.transaction(async (q) => {
      await q.query('DELETE FROM image_removed WHERE name = $1 AND version = $2', [m.name, m.version]);
      await q.query(
        'INSERT INTO image_versions (name, version, manifest, created) VALUES ($1, $2, $3, $4) ON CONFLICT (name, version) DO NOTHING',
        [m.name, m.version, JSON.stringify(m), m.created]);
    });
  }

  async announceVersion(m: Manifest): Promise<boolean> {
    const rows = await this.#db.query<{ removed: boolean }>(
      `WITH ins AS (
         INSERT INTO image_versions (name, version, manifest, created)
         SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM image_removed WHERE name = $1 AND version = $2)
         ON CONFLICT (name, version) DO NOTHING)
       SELECT EXISTS (SELECT 1 FROM image_removed WHERE name = $1 AND version = $2) AS removed`,
      [m.name, m.version, JSON.stringify(m), m.created]);
    return rows[0]?.removed !== true;
  }

  async removedVersions(name: string): Promise<ReadonlySet<string>> {
    const rows = await this.#db.query<{ version: string }>('SELECT version FROM image_removed WHERE name = $1', [name]);
    return new Set(rows.map((r) => r.version));
  }

  async publish(name: string, version: string, at: Date): Promise<PublishedPointer> {
    return this.#movePointer(name, async (q, cur) => {
      if ((await q.query('SELECT 1 FROM image_versions WHERE name = $1 AND version = $2', [name, version])).length === 0) {
        throw new StoreError('DL_STORE_NOT_FOUND', `Image ${name} has no version ${version}`);
      }
      if (cur?.version === version) return cur;
      const previous = cur ? [cur.version, ...cur.previous.filter((p) => p !== version && p !== cur.version)].slice(0, MAX_PREVIOUS) : [];
      return { version, previous, publishedAt: at.toISOString() };
    });
  }

  async rollback(name: string, at: Date): Promise<PublishedPointer> {
    return this.#movePointer(name, async (q, cur) => {
      if (!cur) throw new StoreError('DL_STORE', `Image ${name} has no published version to roll back from`);
      const [back, ...rest] = cur.previous;
      if (back === undefined) throw new StoreError('DL_STORE', `Image ${name}: no previous version to roll back to (published is ${cur.version})`);
      if ((await q.query('SELECT 1 FROM image_versions WHERE name = $1 AND version = $2', [name, back])).length === 0) {
        throw new StoreError('DL_STORE', `Image ${name}: previous version ${back} is no longer in the store`);
      }
      return { version: back, previous: rest, publishedAt: at.toISOString() };
    });
  }

  async removeVersion(name: string, version: string): Promise<void> {
    await this.#db.transaction(async (q) => {
      const cur = (await q.query<PointerRow>('SELECT name, version, previous, published_at FROM image_pointers WHERE name = $1 FOR UPDATE', [name]))[0];
      if (cur?.version === version) throw new StoreError('DL_STORE_IN_USE', `Cannot remove ${name}@${version}: it is the published version; publish another one first`);
      if (cur?.previous.includes(version)) {
        await q.query('UPDATE image_pointers SET previous = array_remove(previous, $2) WHERE name = $1', [name, version]);
      }
      await q.query('DELETE FROM image_copies WHERE name = $1 AND version = $2', [name, version]);
      await q.query('DELETE FROM image_versions WHERE name = $1 AND version = $2', [name, version]);
      await q.query('INSERT INTO image_removed (name, version) VALUES ($1, $2) ON CONFLICT (name, version) DO UPDATE SET removed_at = now()', [name, version]);
      await q.query('SELECT pg_notify($1, $2)', [IMAGES_CHANNEL, name]);
    });
  }

  async recordCopy(name: string, version: string, outcome: CopyOutcome): Promise<void> {
    await this.#db.query(
      `INSERT INTO image_copies (server, name, version, ok, error) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (server, name, version) DO UPDATE SET ok = EXCLUDED.ok, error = EXCLUDED.error, at = now()`,
      [this.#server, name, version, outcome.ok, outcome.ok ? null : outcome.error]);
  }

  detach(): void {
    this.#unlisten?.();
    this.#unresync?.();
  }

  async #movePointer(name: string, next: (q: Queryable, cur: PublishedPointer | null) => Promise<PublishedPointer>): Promise<PublishedPointer> {
    const p = await this.#db.transaction(async (q) => {
      // Locks the row, or (none yet) the name, so concurrent publishers of one image queue.
      await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`diskless image ${name}`]);
      const row = (await q.query<PointerRow>('SELECT name, version, previous, published_at FROM image_pointers WHERE name = $1', [name]))[0];
      const cur = row ? toPointer(row) : null;
      const p = await next(q, cur);
      if (p === cur) return p;
      await q.query(
        `INSERT INTO image_pointers (name, version, previous, published_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, previous = EXCLUDED.previous, published_at = EXCLUDED.published_at`,
        [name, p.version, p.previous, p.publishedAt]);
      await q.query('SELECT pg_notify($1, $2)', [IMAGES_CHANNEL, name]);
      return p;
    });
    this.#set(name, p);
    return p;
  }

  async #heard(name: string): Promise<void> {
    try {
      const row = (await this.#db.query<PointerRow>('SELECT name, version, previous, published_at FROM image_pointers WHERE name = $1', [name]))[0];
      if (row) this.#set(name, toPointer(row));
      else this.#pointers.delete(name);
    } catch (e) {
      this.#log.log('warn', 'image pointer not reread', { image: name, error: String(e) });
    }
    this.#tellChanged(name);
  }

  #tellChanged(name: string | undefined): void {
    for (const fn of this.#changed) {
      try {
        fn(name);
      } catch (e) {
        this.#log.log('error', 'image change handler failed', { image: name, error: String(e) });
      }
    }
  }

  #set(name: string, p: PublishedPointer): void {
    const before = this.#pointers.get(name);
    this.#pointers.set(name, p);
    if (before?.version !== p.version) this.#tell(name, p.version);
  }

  #tell(name: string, version: string): void {
    for (const fn of this.#published) {
      try {
        fn(name, version);
      } catch (e) {
        this.#log.log('error', 'image publish handler failed', { image: name, error: String(e) });
      }
    }
  }
}

function toPointer(r: PointerRow): PublishedPointer {
  return { version: r.version, previous: [...r.previous], publishedAt: r.published_at };
}

/** One boot server's copy of a version, as `image publish` reports it. */
export interface CopyState {
  server: string;
  /** present: it holds the version; failed: a fetch since `since` failed (error says why); absent: nothing recorded since. */
  state: 'present' | 'failed' | 'absent';
  error?: string;
}

/**
 * Where NAME@VERSION is, for every live boot server registered in diskless_servers (silent
 * for less than `goneAfterMs`, not stopped): those are the servers that will serve it. A
 * failure recorded before `since` (the database's clock) counts as nothing recorded: the server
 * tries again when it hears of the publish.
 */
export async function copiesOnLiveServers(db: Queryable, name: string, version: string, since: Date, goneAfterMs = 10_000): Promise<CopyState[]> {
  const rows = await db.query<{ address: string; ok: boolean | null; error: string | null; recent: boolean | null }>(
    `SELECT s.address, c.ok, c.error, c.at >= $3 AS recent
       FROM diskless_servers s LEFT JOIN image_copies c ON c.server = s.address AND c.name = $1 AND c.version = $2
      WHERE s.stopped_at IS NULL AND now() - s.heartbeat_at < make_interval(secs => $4::float8 / 1000)
      ORDER BY s.address`,
    [name, version, since, goneAfterMs]);
  return rows.map((r): CopyState => {
    if (r.ok === true) return { server: r.address, state: 'present' };
    if (r.ok === false && r.recent === true) return { server: r.address, state: 'failed', ...(r.error !== null ? { error: r.error } : {}) };
    return { server: r.address, state: 'absent' };
  });
}

/** How long `image publish` and the API's publish wait for the live servers' copies by default. */
export const PUBLISH_WAIT_SEC = 120;

/**
 * Publishes through `publish` (the store's), then waits until every live server holds the
 * version or failed to fetch it since, at most `waitMs`: the copies as they then stand. What
 * `diskless image publish` and the API's publish both do.
 */
export async function publishAndWait(db: Queryable, name: string, publish: () => Promise<PublishedPointer>, waitMs: number): Promise<{ published: PublishedPointer; copies: CopyState[] }> {
  const since = await databaseNow(db);
  const published = await publish();
  return { published, copies: await waitForCopies(db, name, published.version, since, waitMs) };
}

/**
 * The live servers' copies of NAME@VERSION once every one holds it or failed to fetch it, or
 * as they stand when `waitMs` ran out.
 */
async function waitForCopies(db: Queryable, name: string, version: string, since: Date, waitMs: number): Promise<CopyState[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const copies = await copiesOnLiveServers(db, name, version, since);
    if (copies.every((c) => c.state !== 'absent') || Date.now() >= deadline) return copies;
    await new Promise((r) => setTimeout(r, Math.min(250, Math.max(0, deadline - Date.now()))));
  }
}

/** What to tell an admin about a live server missing a version: why, and where to look. */
export function missingCopyReason(c: CopyState, waitSec: number): string {
  return c.state === 'failed' ? `fetch failed: ${c.error ?? 'no reason recorded'}` : `no copy reported within ${waitSec} s (is its HTTP boot listener reachable from the others?)`;
}

/** The database's clock now (what `copiesOnLiveServers` compares its times with). */
export async function databaseNow(db: Queryable): Promise<Date> {
  const rows = await db.query<{ now: Date }>('SELECT now() AS now');
  return rows[0]!.now;
}
