/**
 * Follows a paged list of the API (/nodes, /discovered: `?limit=&after=`, answered with the
 * items and `next`) to its end. Pure but for `get`, so the dashboard and the CLI share it.
 */

/** The API's largest page (MAX_LIST_LIMIT in src/api/paging.ts): fewest round trips. */
export const PAGE_LIMIT = 1000;

export type PageGetter = (pathAndQuery: string) => Promise<unknown>;

export async function allPages<T>(get: PageGetter, path: string, key: string): Promise<T[]> {
  const items: T[] = [];
  let after: string | null = null;
  for (;;) {
    const page = (await get(`${path}?limit=${PAGE_LIMIT}${after === null ? '' : `&after=${encodeURIComponent(after)}`}`)) as Record<string, unknown>;
    const list = page[key];
    if (!Array.isArray(list)) throw new Error(`${path}: the answer has no "${key}" list`);
    items.push(...(list as T[]));
    const next = page.next;
    // A server older than paging sends no next: its one answer is the whole list.
    if (typeof next !== 'string') return items;
    // The cursor only moves forward; anything else would loop for ever.
    if (after !== null && next <= after) throw new Error(`${path}: the server's next page cursor did not advance (${next})`);
    after = next;
  }
}
