import { normalizeMac } from '../net/mac.js';
import { ApiError } from './http-json.js';

/** Without ?limit=, a list answers this many machines: every machine of most sites. */
export const DEFAULT_LIST_LIMIT = 500;
/** The most one page holds, so one request costs bounded time and memory however big the list. */
export const MAX_LIST_LIMIT = 1000;

export interface ListPage {
  limit: number;
  /** Only machines whose MAC sorts after this one: the `next` of the previous page. */
  after?: string;
}

/** ?limit=N&after=MAC of a list request; a bad value is a 400 that says what to send. */
export function listPage(query: URLSearchParams): ListPage {
  const page: ListPage = { limit: DEFAULT_LIST_LIMIT };
  const limit = query.get('limit');
  if (limit !== null) {
    if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_LIST_LIMIT) {
      throw new ApiError(400, `Bad limit ${JSON.stringify(limit)}`, `Use a whole number from 1 to ${MAX_LIST_LIMIT}`);
    }
    page.limit = Number(limit);
  }
  const after = query.get('after');
  if (after !== null) {
    // A node known by its switch port that no machine was taken for yet is listed by its key, host:NAME.
    const key = after.startsWith('host:') ? after : normalizeMac(after);
    if (!key) throw new ApiError(400, `Bad after ${JSON.stringify(after)}`, 'Send the "next" value of the previous page (a MAC address, or host:NAME)');
    page.after = key;
  }
  return page;
}

/**
 * One page of MACs in MAC order, and the cursor of the next page (null on the last). MAC
 * order is stable while machines come and go, so following `next` lists each machine present
 * throughout exactly once, which offsets into a changing list cannot promise.
 */
export function pageOfMacs(macs: Iterable<string>, page: ListPage): { macs: string[]; next: string | null } {
  const sorted = [...new Set(macs)].filter((m) => page.after === undefined || m > page.after).sort();
  const slice = sorted.slice(0, page.limit);
  return { macs: slice, next: sorted.length > slice.length ? slice[slice.length - 1]! : null };
}
