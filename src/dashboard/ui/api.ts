/** The browser's side of /api/v1: JSON reads, token-bearing writes, {error, hint} as errors. */

import { allPages } from './pages.js';

export const API = '/api/v1';
const TOKEN_KEY = 'diskless.adminToken';

/** An API refusal with the server's own words: `message` is its error, `hint` what to do. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'ApiProblem';
  }
}

/** Server clock minus ours, from the Date header: "ago" must use the clock events were stamped with. */
let skewMs = 0;
export function serverNow(): number {
  return Date.now() + skewMs;
}

export async function getJson<T>(path: string): Promise<T> {
  return request<T>('GET', path, undefined, {});
}

/** Every item of a paged list (/nodes, /discovered), page after page. */
export async function getAll<T>(path: string, key: string): Promise<T[]> {
  return allPages<T>((p) => getJson<unknown>(p), path, key);
}

/** A write with the admin token from this tab's session (asked for once, see tokenStore). */
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const token = tokenStore.get();
  if (!token) throw new ApiProblem(401, 'No admin token entered', 'Enter the admin token at the top right of the page (diskless keeps it in STATE/admin-token)');
  return request<T>('POST', path, JSON.stringify(body), { 'content-type': 'application/json', authorization: `Bearer ${token}` });
}

async function request<T>(method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<T> {
  let res: Response;
  try {
    res = await fetch(API + path, { method, headers: { accept: 'application/json', ...headers }, ...(body === undefined ? {} : { body }), cache: 'no-store' });
  } catch (e) {
    throw new ApiProblem(0, 'The server cannot be reached', `Is diskless serve still running? (${(e as Error).message})`);
  }
  const date = Date.parse(res.headers.get('date') ?? '');
  // The Date header has whole seconds: only a skew larger than that is worth correcting.
  if (!Number.isNaN(date) && Math.abs(date - Date.now()) > 2000) skewMs = date - Date.now();
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json ?? {}) as { error?: unknown; hint?: unknown };
    throw new ApiProblem(res.status, typeof e.error === 'string' ? e.error : `${method} ${path} answered ${res.status}`, typeof e.hint === 'string' ? e.hint : '');
  }
  return json as T;
}

/** sessionStorage: the token lives as long as the tab, never in localStorage or a cookie. */
export const tokenStore = {
  get(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};
