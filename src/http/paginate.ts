/**
 * `nextToken` / `maxResults` pagination as AWS list operations do it: a page of at most
 * `maxResults` items (the operation's default when absent) and an opaque `nextToken` when more
 * remain. Tokens here encode a position in the list the caller passes; a store with its own
 * cursors can mint its own tokens instead.
 */
import { AwsServiceError } from './aws-errors.js';

export interface PageRequest {
  nextToken?: string;
  maxResults?: number;
}

export interface Page<T> {
  items: T[];
  /** Absent on the last page. */
  nextToken?: string;
}

const TOKEN_PREFIX = 'tp1.';

/** The opaque token for "continue at `offset`". */
export function encodePageToken(offset: number): string {
  return TOKEN_PREFIX + Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

/**
 * The offset a token stands for. Throws InvalidRequestException (400) for a token this server
 * did not issue, as AWS does for a bad `nextToken`.
 */
export function decodePageToken(token: string): number {
  const bad = new AwsServiceError('InvalidRequestException', `Invalid nextToken: '${token.length > 64 ? `${token.slice(0, 64)}...` : token}' was not issued by this server`, 400);
  if (!token.startsWith(TOKEN_PREFIX)) throw bad;
  try {
    const o = (JSON.parse(Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url').toString('utf8')) as { o?: unknown }).o;
    if (typeof o === 'number' && Number.isSafeInteger(o) && o >= 0) return o;
  } catch {
    /* fall through */
  }
  throw bad;
}

/**
 * One page of `items`: from the token's position, at most `maxResults` (else `defaultMax`).
 * A token past the end gives an empty last page. Items added or removed between calls can shift
 * positions (an item may be skipped or repeated), as with any offset cursor.
 */
export function paginate<T>(items: readonly T[], page: PageRequest, defaultMax: number): Page<T> {
  const start = page.nextToken === undefined || page.nextToken === '' ? 0 : decodePageToken(page.nextToken);
  const max = page.maxResults ?? defaultMax;
  if (!Number.isInteger(max) || max < 1) throw new AwsServiceError('InvalidRequestException', `maxResults must be a positive integer, not ${max}`, 400);
  const end = Math.min(items.length, start + max);
  const out: Page<T> = { items: items.slice(start, end) };
  if (end < items.length) out.nextToken = encodePageToken(end);
  return out;
}
