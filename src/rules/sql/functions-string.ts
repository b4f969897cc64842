/** String and regular-expression functions of AWS IoT SQL. Non-string input converts as `cast(x AS String)`. */
import type { SqlFunction } from './context.js';
import { SqlDecimal } from './decimal.js';
import { stringify, toNumber } from './values.js';

function str(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object' && !Buffer.isBuffer(v) && !(v instanceof SqlDecimal)) return undefined;
  return stringify(v);
}
function s1(f: (s: string) => unknown): SqlFunction {
  return { min: 1, max: 1, fn: ([a]) => { const s = str(a); return s === undefined ? undefined : f(s); } };
}
function s2(f: (s: string, t: string) => unknown): SqlFunction {
  return {
    min: 2,
    max: 2,
    fn: ([a, b]) => {
      const s = str(a);
      const t = str(b);
      return s === undefined || t === undefined ? undefined : f(s, t);
    },
  };
}
function pad(left: boolean): SqlFunction {
  return {
    min: 2,
    max: 2,
    fn: ([a, b]) => {
      const s = str(a);
      const n = toNumber(b);
      if (s === undefined || n === undefined || !Number.isInteger(n)) return undefined;
      if (n < 0) return undefined;
      return left ? ' '.repeat(n) + s : s + ' '.repeat(n);
    },
  };
}
/** Java-style patterns are close enough to JS for the patterns people write; compile failures give Undefined. */
function regex(p: string, flags = ''): RegExp | undefined {
  try {
    return new RegExp(p, flags);
  } catch {
    return undefined;
  }
}

export const STRING_FUNCTIONS: Record<string, SqlFunction> = {
  chr: { min: 1, max: 1, fn: ([a]) => { const n = toNumber(a); return n === undefined || !Number.isInteger(n) || n < 0 ? undefined : String.fromCodePoint(n); } },
  concat: {
    min: 2,
    max: 64,
    fn: (args) => {
      // Arrays concatenate into an Array; otherwise strings (AWS: concat of Array and values appends).
      if (args.some((a) => a === undefined)) return undefined;
      if (args.some(Array.isArray)) return args.flatMap((a) => (Array.isArray(a) ? a : [a]));
      return args.map((a) => stringify(a)).join('');
    },
  },
  endswith: s2((s, t) => s.endsWith(t)),
  startswith: s2((s, t) => s.startsWith(t)),
  indexof: s2((s, t) => s.indexOf(t)),
  length: {
    min: 1,
    max: 1,
    fn: ([a]) => (Array.isArray(a) ? a.length : typeof a === 'string' ? [...a].length : (str(a) === undefined ? undefined : [...str(a)!].length)),
  },
  lower: s1((s) => s.toLowerCase()),
  upper: s1((s) => s.toUpperCase()),
  lpad: pad(true),
  rpad: pad(false),
  ltrim: s1((s) => s.replace(/^\s+/, '')),
  rtrim: s1((s) => s.replace(/\s+$/, '')),
  trim: s1((s) => s.trim()),
  numbytes: s1((s) => Buffer.byteLength(s, 'utf8')),
  replace: {
    min: 3,
    max: 3,
    fn: ([a, b, c]) => {
      const s = str(a);
      const f = str(b);
      const r = str(c);
      return s === undefined || f === undefined || r === undefined ? undefined : s.split(f).join(r);
    },
  },
  substring: {
    min: 2,
    max: 3,
    fn: ([a, b, c]) => {
      const s = str(a);
      const from = toNumber(b);
      const to = c === undefined ? undefined : toNumber(c);
      if (s === undefined || from === undefined || (c !== undefined && to === undefined)) return undefined;
      const len = s.length;
      const start = Math.max(0, Math.min(len, Math.trunc(from)));
      const end = to === undefined ? len : Math.max(start, Math.min(len, Math.trunc(to)));
      return s.slice(start, end);
    },
  },
  regexp_matches: s2((s, p) => { const r = regex(p); return r === undefined ? undefined : r.test(s); }),
  regexp_replace: {
    min: 3,
    max: 3,
    fn: ([a, b, c]) => {
      const s = str(a);
      const p = str(b);
      const r = str(c);
      const re = p === undefined ? undefined : regex(p, 'g');
      return s === undefined || re === undefined || r === undefined ? undefined : s.replace(re, r);
    },
  },
  regexp_substr: s2((s, p) => { const r = regex(p); if (r === undefined) return undefined; const m = r.exec(s); return m === null ? '' : m[0]; }),
};
