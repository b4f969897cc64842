/**
 * AWS IoT SQL values and their type rules (developer guide, "Data types" and "Operators").
 * Representation: Int is an integral JS number, Decimal a fractional JS number or, when its value
 * is whole (`7.0`), a SqlDecimal box; String, Boolean, Array, Object, Null (`null`), Undefined
 * (`undefined`), and binary payloads as Buffer.
 */
import { decimalOf, SqlDecimal } from './decimal.js';
import { toJsonText } from './json.js';

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
      if (v instanceof SqlDecimal) return 'Decimal';
      if (Buffer.isBuffer(v)) return 'Binary';
      return 'Object';
  }
}

/** An Object value (not an Array, a Decimal box or the payload bytes). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  // Parsed JSON and object literals: one prototype check instead of three class checks.
  if (Object.getPrototypeOf(v) === Object.prototype) return true;
  return !Array.isArray(v) && !(v instanceof SqlDecimal) && !Buffer.isBuffer(v);
}

/** Int or Decimal. */
function isNumeric(v: unknown): boolean {
  return typeof v === 'number' || v instanceof SqlDecimal;
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
  if (typeof v === 'string') return NUMERIC.test(v) ? Number(v) : undefined;
  if (v instanceof SqlDecimal) return v.value;
  return undefined;
}

/** An Int operand: an integral JS number (a numeric String converts to a Decimal, "Conversions"). */
function isInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v);
}

/**
 * Arithmetic per AWS's operator tables: Int op Int is an Int (`/` truncates toward zero);
 * anything with a Decimal or a numeric String is a Decimal; other operands give Undefined.
 * `decimals` (SQL 2015-10-08) keeps a whole Decimal result Decimal (2.5 * 2 = 5.0); with
 * 2016-03-23 whole numbers are Ints ("Data types").
 */
export function arithmetic(op: '+' | '-' | '*' | '/' | '%', a: unknown, b: unknown, decimals = false): unknown {
  const x = toNumber(a);
  const y = toNumber(b);
  if (x === undefined || y === undefined) return undefined;
  const ints = isInt(a) && isInt(b);
  let r: number;
  switch (op) {
    case '+':
      r = x + y;
      break;
    case '-':
      r = x - y;
      break;
    case '*':
      r = x * y;
      break;
    case '/':
      if (y === 0) return undefined;
      r = ints ? Math.trunc(x / y) : x / y;
      break;
    case '%':
      if (y === 0) return undefined;
      r = x % y;
      break;
  }
  if (!Number.isFinite(r)) return undefined;
  return ints || !decimals ? r : decimalOf(r);
}

/** Deep equality for `=` on Arrays and Objects. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (isNumeric(a) && isNumeric(b)) return toNumber(a) === toNumber(b);
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
  if (isNumeric(a) || isNumeric(b)) {
    const x = toNumber(a);
    const y = toNumber(b);
    if (x === undefined || y === undefined) return false;
    return x === y;
  }
  return deepEqual(a, b);
}

/** `<`, `<=`, `>`, `>=`: numbers (numeric strings convert) or two strings; else Undefined. */
export function compare(a: unknown, b: unknown): number | undefined {
  // Two numbers (the usual `temp > 30`): as toNumber would have it, without its checks per type.
  if (typeof a === 'number' && typeof b === 'number') return Number.isFinite(a) && Number.isFinite(b) ? a - b : undefined;
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
      if (v instanceof SqlDecimal) return v.text;
      if (Buffer.isBuffer(v)) return v.toString('utf8');
      return toJsonText(v);
  }
}

/** The type keywords `cast(v AS ...)` accepts (functions reference, "cast"), lower case, and what they cast to. */
export const CAST_TYPES: Readonly<Record<string, 'int' | 'decimal' | 'boolean' | 'string'>> = {
  int: 'int',
  integer: 'int',
  decimal: 'decimal',
  double: 'decimal',
  bool: 'boolean',
  boolean: 'boolean',
  string: 'string',
  nvarchar: 'string',
  text: 'string',
  ntext: 'string',
  varchar: 'string',
};

/**
 * `cast(v AS Type)` per the functions reference; Undefined when there is no conversion. `decimals`
 * (SQL 2015-10-08): a cast to Decimal is a Decimal even when whole — an Int becomes "a Decimal with
 * no decimal point" (printed `1`), true/false become 1.0/0.0.
 */
export function cast(v: unknown, to: string, decimals = false): unknown {
  const t = typeOf(v);
  switch (CAST_TYPES[to.toLowerCase()]) {
    case 'int': {
      if (t === 'Boolean') return v ? 1 : 0;
      const n = toNumber(v);
      return n === undefined ? undefined : Math.trunc(n);
    }
    case 'decimal': {
      if (t === 'Boolean') return decimals ? new SqlDecimal(v ? 1 : 0, v ? '1.0' : '0.0') : v ? 1 : 0;
      if (t === 'Decimal') return v;
      const n = toNumber(v);
      if (n === undefined || !decimals) return n;
      return decimalOf(n, t === 'String' ? (v as string).trim() : String(n));
    }
    case 'boolean': {
      if (t === 'Int' || t === 'Decimal') return toNumber(v) !== 0;
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
