/**
 * AWS IoT SQL values and their type rules (developer guide, "Data types" and "Operators").
 * Representation: Int and Decimal are JS numbers (an integral number is an Int, so JSON `2.0`
 * reads as Int 2 — see docs/rules.md), String, Boolean, Array, Object, Null (`null`),
 * Undefined (`undefined`), and binary payloads as Buffer.
 */

export type SqlType = 'Int' | 'Decimal' | 'Boolean' | 'String' | 'Array' | 'Object' | 'Null' | 'Undefined' | 'Binary';

export function typeOf(v: unknown): SqlType {
  if (v === undefined) return 'Undefined';
  if (v === null) return 'Null';
  switch (typeof v) {
    case 'number':
      return Number.isInteger(v) ? 'Int' : 'Decimal';
    case 'string':
      return 'String';
    case 'boolean':
      return 'Boolean';
    default:
      if (Array.isArray(v)) return 'Array';
      if (Buffer.isBuffer(v)) return 'Binary';
      return 'Object';
  }
}

/** Boolean operands of AND/OR/NOT: Booleans, or the strings "true"/"false" (any case); else undefined. */
export function toBoolean(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const l = v.toLowerCase();
    if (l === 'true') return true;
    if (l === 'false') return false;
  }
  return undefined;
}

const NUMERIC = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

/** Int/Decimal, or a String that is a valid number; else undefined. (Operators table: "String ... converted".) */
export function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && NUMERIC.test(v)) return Number(v);
  return undefined;
}

/** Arithmetic per AWS's tables: numbers (and numeric strings) in, Undefined for anything else. */
export function arithmetic(op: '+' | '-' | '*' | '/' | '%', a: unknown, b: unknown): unknown {
  const x = toNumber(a);
  const y = toNumber(b);
  if (x === undefined || y === undefined) return undefined;
  const ints = Number.isInteger(x) && Number.isInteger(y);
  switch (op) {
    case '+':
      return x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      if (y === 0) return undefined;
      // Int / Int is integer division, truncating toward zero.
      return ints ? Math.trunc(x / y) : x / y;
    case '%':
      if (y === 0) return undefined;
      return x % y;
  }
}

/** Deep equality for `=` on Arrays and Objects. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * `=` and `<>`: Undefined when either side is Undefined; numbers compare numerically (a numeric
 * string against a number converts); Arrays and Objects deeply; values of different types are unequal.
 */
export function equals(a: unknown, b: unknown): boolean | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (typeof a === 'number' || typeof b === 'number') {
    const x = toNumber(a);
    const y = toNumber(b);
    if (x === undefined || y === undefined) return false;
    return x === y;
  }
  return deepEqual(a, b);
}

/** `<`, `<=`, `>`, `>=`: numbers (numeric strings convert) or two strings; else Undefined. */
export function compare(a: unknown, b: unknown): number | undefined {
  if (typeof a === 'string' && typeof b === 'string') {
    const x = toNumber(a);
    const y = toNumber(b);
    if (x !== undefined && y !== undefined) return x - y;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const x = toNumber(a);
  const y = toNumber(b);
  if (x === undefined || y === undefined) return undefined;
  return x - y;
}

/** The String form of a value for concatenation and casts: JSON for Arrays and Objects. */
export function stringify(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return undefined;
    default:
      if (v === null) return 'null';
      if (Buffer.isBuffer(v)) return v.toString('utf8');
      return JSON.stringify(v);
  }
}

/** `cast(v AS Type)` per the functions reference; Undefined when there is no conversion. */
export function cast(v: unknown, to: string): unknown {
  const t = typeOf(v);
  switch (to.toLowerCase()) {
    case 'int': {
      if (t === 'Boolean') return v ? 1 : 0;
      const n = toNumber(v);
      return n === undefined ? undefined : Math.trunc(n);
    }
    case 'decimal': {
      if (t === 'Boolean') return v ? 1 : 0;
      return toNumber(v);
    }
    case 'bool':
    case 'boolean': {
      if (t === 'Int' || t === 'Decimal') return v !== 0;
      if (t === 'Boolean') return v;
      if (t === 'String') return toBoolean(v);
      return undefined;
    }
    case 'string':
      return t === 'Undefined' ? undefined : stringify(v);
    default:
      return undefined;
  }
}

/** The bytes of a value for hashing and encoding: a Buffer as is, a String as UTF-8, others as JSON. */
export function bytesOf(v: unknown): Buffer | undefined {
  if (v === undefined) return undefined;
  if (Buffer.isBuffer(v)) return v;
  const s = stringify(v);
  return s === undefined ? undefined : Buffer.from(s, 'utf8');
}
