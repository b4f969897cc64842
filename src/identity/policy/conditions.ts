/**
 * `Condition` blocks, evaluated as IAM does (IAM reference_policies_elements_condition_operators.html
 * and reference_policies_condition-logic-multiple-context-keys-or-values.html):
 *  - several operators, or several keys under one operator, are ANDed; several values for a key are ORed;
 *  - a key absent from the request context makes the condition false, except that negated
 *    operators (StringNotEquals, StringNotLike, NotIpAddress, ArnNotLike, ...) are then true;
 *    `...IfExists` is true when the key is absent; `Null` tests presence;
 *  - `ForAnyValue:` is true when some context value matches (false when the key is absent or empty),
 *    `ForAllValues:` when every context value matches (true when absent or empty).
 */
import { isIP } from 'node:net';
import { compileGlob, globMatches, resolveTemplateText, type Template, type VariableLookup } from './pattern.js';

const BASES = [
  'StringEquals', 'StringEqualsIgnoreCase', 'StringLike',
  'NumericEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals',
  'DateEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals',
  'Bool', 'BinaryEquals', 'IpAddress', 'ArnEquals', 'ArnLike', 'Null',
] as const;
export type BaseOperator = (typeof BASES)[number];

/** Negated operator name -> the positive operator it negates. */
const NEGATED: Record<string, BaseOperator> = {
  StringNotEquals: 'StringEquals', StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase', StringNotLike: 'StringLike',
  NumericNotEquals: 'NumericEquals', DateNotEquals: 'DateEquals', NotIpAddress: 'IpAddress',
  ArnNotEquals: 'ArnEquals', ArnNotLike: 'ArnLike',
};

export interface ConditionOperator {
  /** As written, e.g. `ForAnyValue:StringLikeIfExists`. */
  readonly name: string;
  readonly base: BaseOperator;
  readonly negated: boolean;
  readonly ifExists: boolean;
  readonly qualifier: 'any' | 'all' | null;
}

/** Parses an operator name; null for one IAM does not define. */
export function parseOperator(name: string): ConditionOperator | null {
  let rest = name;
  let qualifier: 'any' | 'all' | null = null;
  if (rest.startsWith('ForAnyValue:')) [qualifier, rest] = ['any', rest.slice(12)];
  else if (rest.startsWith('ForAllValues:')) [qualifier, rest] = ['all', rest.slice(13)];
  let ifExists = false;
  if (rest.endsWith('IfExists') && rest !== 'IfExists') [ifExists, rest] = [true, rest.slice(0, -8)];
  if (rest === 'Null' && (ifExists || qualifier !== null)) return null;
  const negatedOf = NEGATED[rest];
  if (negatedOf !== undefined) return { name, base: negatedOf, negated: true, ifExists, qualifier };
  if ((BASES as readonly string[]).includes(rest)) return { name, base: rest as BaseOperator, negated: false, ifExists, qualifier };
  return null;
}

export interface Condition {
  readonly op: ConditionOperator;
  /** The key as written and normalised (see normalizeKey). */
  readonly keyName: string;
  readonly key: string;
  readonly values: readonly Template[];
}

/** Epoch milliseconds of an IAM date value (ISO 8601, or epoch seconds), NaN when unreadable. */
export function parseDate(v: string): number {
  return /^-?\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : Date.parse(v);
}

/** The address and prefix length of `a.b.c.d/n`, `x::y/n` or a bare address; null when invalid. */
export function parseCidr(v: string): { address: string; family: 4 | 6; prefix: number } | null {
  const slash = v.indexOf('/');
  const address = normalizeIp(slash === -1 ? v : v.slice(0, slash));
  const family = isIP(address);
  if (family === 0) return null;
  const max = family === 4 ? 32 : 128;
  const prefix = slash === -1 ? max : /^\d{1,3}$/.test(v.slice(slash + 1)) ? Number(v.slice(slash + 1)) : -1;
  return prefix < 0 || prefix > max ? null : { address, family: family as 4 | 6, prefix };
}

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, how dual-stack sockets report IPv4 peers) as IPv4. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip.trim());
  return m ? m[1]! : ip.trim();
}

function ipBytes(address: string, family: 4 | 6): number[] {
  if (family === 4) return address.split('.').map(Number);
  let a = address;
  const v4words: number[] = [];
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (v4) {
    const [b0, b1, b2, b3] = v4.slice(1).map(Number) as [number, number, number, number];
    v4words.push((b0 << 8) | b1, (b2 << 8) | b3);
    a = a.slice(0, v4.index);
    if (a.endsWith(':') && !a.endsWith('::')) a = a.slice(0, -1);
  }
  const words = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const gap = a.indexOf('::');
  const head = words(gap === -1 ? a : a.slice(0, gap));
  const tail = [...(gap === -1 ? [] : words(a.slice(gap + 2))), ...v4words];
  const all = [...head, ...new Array<number>(Math.max(0, 8 - head.length - tail.length)).fill(0), ...tail];
  return all.flatMap((w) => [w >> 8, w & 255]);
}

/** Is `ip` inside `cidr`? */
export function ipInCidr(ip: string, cidr: { address: string; family: 4 | 6; prefix: number }): boolean {
  const addr = normalizeIp(ip);
  const family = isIP(addr);
  if (family !== cidr.family) return false;
  const a = ipBytes(addr, cidr.family);
  const b = ipBytes(cidr.address, cidr.family);
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 255 : (255 << (8 - bits)) & 255;
    if ((a[i]! & mask) !== (b[i]! & mask)) return false;
  }
  return true;
}

/** ArnEquals/ArnLike: the six colon-separated parts compared with wildcards (the resource part may hold colons). */
function arnMatches(pattern: string, value: string): boolean {
  const split = (s: string): string[] => {
    const p = s.split(':');
    return p.length < 6 ? p : [...p.slice(0, 5), p.slice(5).join(':')];
  };
  const pp = split(pattern);
  const vp = split(value);
  if (pp.length !== 6 || vp.length !== 6) return pattern === value;
  return pp.every((part, i) => globMatches(compileGlob(part), vp[i]!));
}

function compareNumbers(op: BaseOperator, a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return false;
  switch (op) {
    case 'NumericEquals': case 'DateEquals': return a === b;
    case 'NumericLessThan': case 'DateLessThan': return a < b;
    case 'NumericLessThanEquals': case 'DateLessThanEquals': return a <= b;
    case 'NumericGreaterThan': case 'DateGreaterThan': return a > b;
    default: return a >= b;
  }
}

/** Does context value `v` match policy value `p` under the positive form of `op`? */
function matchOne(op: BaseOperator, v: string, p: string): boolean {
  switch (op) {
    case 'StringEquals': case 'BinaryEquals': return v === p;
    case 'StringEqualsIgnoreCase': return v.toLowerCase() === p.toLowerCase();
    case 'StringLike': return globMatches(compileGlob(p), v);
    case 'Bool': return v.toLowerCase() === p.toLowerCase();
    case 'IpAddress': {
      const c = parseCidr(p);
      return c !== null && ipInCidr(v, c);
    }
    case 'ArnEquals': case 'ArnLike': return arnMatches(p, v);
    case 'NumericEquals': case 'NumericLessThan': case 'NumericLessThanEquals': case 'NumericGreaterThan': case 'NumericGreaterThanEquals':
      return compareNumbers(op, Number(v), Number(p));
    default: return compareNumbers(op, parseDate(v), parseDate(p));
  }
}

/** The context a condition reads: key values (undefined = absent) and variable values. */
export interface ConditionContext {
  values(key: string): readonly string[] | undefined;
  variable: VariableLookup;
}

/**
 * Evaluates one condition. Policy values whose variables cannot be resolved match nothing (AWS
 * leaves the `${...}` text in place, which no real value equals); `onMissing` hears absent keys and
 * unresolved variables (TestAuthorization's missingContextValues).
 */
export function evaluateCondition(c: Condition, ctx: ConditionContext, onMissing?: (name: string) => void): boolean {
  const { op } = c;
  const actual = ctx.values(c.key);
  if (op.base === 'Null') {
    const absent = actual === undefined || actual.length === 0;
    return c.values.some((t) => (resolveTemplateText(t, ctx.variable, onMissing) ?? '').toLowerCase() === String(absent));
  }
  if (actual === undefined || actual.length === 0) {
    if (op.ifExists) return true;
    onMissing?.(c.keyName);
    return op.qualifier === 'all' ? true : op.qualifier === 'any' ? false : op.negated;
  }
  const expected: string[] = [];
  for (const t of c.values) {
    const v = resolveTemplateText(t, ctx.variable, onMissing);
    if (v !== null) expected.push(v);
  }
  const positive = (v: string): boolean => expected.some((p) => matchOne(op.base, v, p));
  const test = (v: string): boolean => (op.negated ? !positive(v) : positive(v));
  if (op.qualifier === 'all') return actual.every(test);
  if (op.qualifier === 'any') return actual.some(test);
  const any = actual.some(positive);
  return op.negated ? !any : any;
}

/** Checks a condition value when the document is parsed; an error message, or null when fine. */
export function checkConditionValue(op: ConditionOperator, value: string): string | null {
  switch (op.base) {
    case 'Bool': case 'Null':
      return /^(true|false)$/i.test(value) ? null : `${op.name} needs 'true' or 'false', not '${value}'`;
    case 'IpAddress':
      return parseCidr(value) === null ? `${op.name} needs an IP address or CIDR block, not '${value}'` : null;
    case 'NumericEquals': case 'NumericLessThan': case 'NumericLessThanEquals': case 'NumericGreaterThan': case 'NumericGreaterThanEquals':
      return value.trim() === '' || Number.isNaN(Number(value)) ? `${op.name} needs a number, not '${value}'` : null;
    case 'DateEquals': case 'DateLessThan': case 'DateLessThanEquals': case 'DateGreaterThan': case 'DateGreaterThanEquals':
      return Number.isNaN(parseDate(value)) ? `${op.name} needs an ISO 8601 date or epoch seconds, not '${value}'` : null;
    default:
      return null;
  }
}
