/**
 * Keyset pagination for registry lists: a page is "the next `maxResults` names after the last
 * one returned", so things created or deleted between calls never shift other items (unlike
 * offset tokens). The token is opaque to clients: `tpr1.` + base64url JSON of the last key.
 */
import { registryErrors } from './errors.js';
import type { Page, PageRequest } from './model.js';

/** AWS's `RegistryMaxResults` range is 1..250; AWS documents no default, Thingport uses 50. */
export const DEFAULT_MAX_RESULTS = 50;
export const MAX_MAX_RESULTS = 250;
const PREFIX = 'tpr1.';

export function encodeKeyToken(key: string): string {
  return PREFIX + Buffer.from(JSON.stringify({ a: key })).toString('base64url');
}

/** The last key a token stands for, or undefined for no token; InvalidRequest for a token this server did not issue. */
export function decodeKeyToken(token: string | undefined): string | undefined {
  if (token === undefined || token === '') return undefined;
  if (token.startsWith(PREFIX)) {
    try {
      const a = (JSON.parse(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8')) as { a?: unknown }).a;
      if (typeof a === 'string') return a;
    } catch {
      /* fall through */
    }
  }
  throw registryErrors.invalid('nextToken', `'${token.length > 64 ? `${token.slice(0, 64)}...` : token}' was not issued by this server`);
}

/** The page size a request asks for (validated). */
export function pageSize(req: PageRequest): number {
  const max = req.maxResults ?? DEFAULT_MAX_RESULTS;
  if (!Number.isInteger(max) || max < 1 || max > MAX_MAX_RESULTS) throw registryErrors.invalid('maxResults', `must be an integer from 1 to ${MAX_MAX_RESULTS}, not ${max}`);
  return max;
}

/** The store query for a request: start after the token's key, fetch one extra row to learn whether more remain. */
export function keysetQuery(req: PageRequest): { after?: string; limit: number } {
  const after = decodeKeyToken(req.nextToken);
  const limit = pageSize(req) + 1;
  return after === undefined ? { limit } : { after, limit };
}

/** A page from rows fetched with `keysetQuery` (one more than the page size when more remain). */
export function toPage<R, T>(rows: R[], req: PageRequest, keyOf: (row: R) => string, map: (row: R) => T): Page<T> {
  const size = pageSize(req);
  const more = rows.length > size;
  const kept = more ? rows.slice(0, size) : rows;
  const page: Page<T> = { items: kept.map(map) };
  if (more) page.nextToken = encodeKeyToken(keyOf(kept[kept.length - 1]!));
  return page;
}

/** A page of an in-memory list of distinct keys, sorted here. */
export function pageOfKeys<T>(keys: readonly string[], req: PageRequest, map: (key: string) => T): Page<T> {
  const q = keysetQuery(req);
  const sorted = [...keys].sort();
  const rows = (q.after === undefined ? sorted : sorted.filter((k) => k > q.after!)).slice(0, q.limit);
  return toPage(rows, req, (k) => k, map);
}
