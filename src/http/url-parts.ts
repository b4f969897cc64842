/**
 * Request-line helpers shared by SigV4 and the rest-json router: splitting the raw URL,
 * decoding query parameters, and AWS's URI encoding (RFC 3986 unreserved characters kept,
 * everything else percent-encoded as UTF-8 with upper-case hex).
 */

/** The path and query of a request target exactly as sent (no decoding). */
export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q === -1 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

/**
 * Percent-decodes one URI component. `+` stays a plus: AWS clients encode a space as %20 and a
 * plus as %2B, so a bare `+` is a literal plus. Malformed escapes are kept as sent.
 */
export function decodeComponent(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The query parameters in order, decoded; `a` and `a=` both give `['a', '']`. */
export function parseQuery(query: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (query === '') return out;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    out.push(eq === -1 ? [decodeComponent(part), ''] : [decodeComponent(part.slice(0, eq)), decodeComponent(part.slice(eq + 1))]);
  }
  return out;
}

const hex = (c: string): string => `%${c.charCodeAt(0).toString(16).toUpperCase()}`;

/** AWS's UriEncode: encodeURIComponent plus the four sub-delimiters it leaves alone. */
export function uriEscape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, hex);
}
