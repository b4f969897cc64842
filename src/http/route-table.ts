/**
 * Matches a request's method and path against the URI templates of a service model.
 *
 * Templates come from the model's `requestUri`: literal segments, `{label}` (one segment) and
 * greedy `{label+}` (the rest of the path, slashes included), optionally a fixed query
 * (`/x?type=y`, `/x?uploads`) the request must carry. Several IoT operations share prefixes
 * (`POST /things` RegisterThing vs `POST /things/{thingName}` CreateThing, `PUT
 * /thing-groups/addThingToThingGroup` vs label routes), so every template is a whole-path
 * regular expression and, per method, the most specific template is tried first: more fixed
 * query parameters, then more literal characters, then fewer labels, then no greedy label.
 * Labels are matched on the path as sent and percent-decoded afterwards, so an encoded `/`
 * (`%2F`) stays inside its label.
 */
import type { ServiceModel } from './service-model.js';
import { decodeComponent } from './url-parts.js';

export interface RouteMatch {
  operation: string;
  /** Decoded label values by label name. */
  labels: Record<string, string>;
  /** Query parameter names fixed by the template (not input members). */
  fixedQuery: readonly string[];
}

interface CompiledRoute {
  operation: string;
  regex: RegExp;
  labelNames: string[];
  fixedQuery: Array<[string, string | undefined]>;
  rank: [number, number, number, number];
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const trimSlash = (p: string): string => (p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p);

function compile(operation: string, requestUri: string): CompiledRoute {
  const q = requestUri.indexOf('?');
  const pathTemplate = trimSlash(q === -1 ? requestUri : requestUri.slice(0, q));
  const fixedQuery: Array<[string, string | undefined]> = [];
  if (q !== -1) {
    for (const part of requestUri.slice(q + 1).split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      fixedQuery.push(eq === -1 ? [part, undefined] : [part.slice(0, eq), part.slice(eq + 1)]);
    }
  }
  const labelNames: string[] = [];
  let literal = 0;
  let greedy = 0;
  let source = '';
  let last = 0;
  for (const m of pathTemplate.matchAll(/\{([^}+]+)(\+?)\}/g)) {
    const text = pathTemplate.slice(last, m.index);
    literal += text.length;
    source += escapeRegex(text);
    labelNames.push(m[1]!);
    if (m[2] === '+') greedy++;
    source += m[2] === '+' ? '(.+)' : '([^/]+)';
    last = m.index + m[0].length;
  }
  const tail = pathTemplate.slice(last);
  literal += tail.length;
  source += escapeRegex(tail);
  return { operation, regex: new RegExp(`^${source}$`), labelNames, fixedQuery, rank: [fixedQuery.length, literal, -labelNames.length, -greedy] };
}

function compareRank(a: CompiledRoute, b: CompiledRoute): number {
  for (let i = 0; i < a.rank.length; i++) if (a.rank[i] !== b.rank[i]) return b.rank[i]! - a.rank[i]!;
  return a.operation < b.operation ? -1 : 1;
}

export class RouteTable {
  private readonly byMethod = new Map<string, CompiledRoute[]>();

  constructor(model: ServiceModel) {
    for (const [name, op] of Object.entries(model.operations)) {
      const method = op.method.toUpperCase();
      const list = this.byMethod.get(method) ?? [];
      list.push(compile(name, op.requestUri));
      this.byMethod.set(method, list);
    }
    for (const list of this.byMethod.values()) list.sort(compareRank);
  }

  /** The operation for `method` and the raw (still encoded) `path`, or null. */
  match(method: string, path: string, query: ReadonlyArray<readonly [string, string]>): RouteMatch | null {
    const routes = this.byMethod.get(method.toUpperCase());
    if (routes === undefined) return null;
    const p = trimSlash(path);
    for (const route of routes) {
      const m = route.regex.exec(p);
      if (m === null) continue;
      if (!route.fixedQuery.every(([k, v]) => query.some(([qk, qv]) => qk === k && (v === undefined || qv === v)))) continue;
      const labels: Record<string, string> = {};
      route.labelNames.forEach((name, i) => {
        labels[name] = decodeComponent(m[i + 1]!);
      });
      return { operation: route.operation, labels, fixedQuery: route.fixedQuery.map(([k]) => k) };
    }
    return null;
  }
}
