/**
 * An order-preserving JSON reader and writer for shadow documents.
 *
 * AWS's shadow service echoes what a device sent: keys in the order they were sent and numbers as
 * written (`22.0` stays `22.0`). `JSON.parse` cannot do either — JavaScript objects put
 * integer-like keys (`"9"`, `"10"`) first, and numbers lose their spelling and precision past
 * 2^53 — so documents are read into Maps (insertion order) with numbers kept as their source
 * text. The writer emits compact JSON, as AWS does. Pure functions, no I/O.
 */

/** A JSON number as it was written; `value` is its numeric value for comparisons. */
export class JsonNumber {
  constructor(readonly raw: string) {}
  get value(): number {
    return Number(this.raw);
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
export type JsonObject = Map<string, JsonValue>;

export const isObject = (v: JsonValue | undefined): v is JsonObject => v instanceof Map;

/** A number written by Thingport (timestamps, versions). */
export const num = (n: number): JsonNumber => new JsonNumber(String(n));

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WS = /[ \t\n\r]*/y;

/** Thrown by parseJson; callers turn it into their own error (shadows: 400 `Invalid JSON`). */
export class JsonSyntaxError extends Error {}

/**
 * Parses JSON text (RFC 8259: one value, surrounded by optional whitespace). Nesting deeper than
 * `maxNesting` (objects and arrays) is a syntax error, so hostile input cannot exhaust the stack.
 */
export function parseJson(text: string, maxNesting = 512): JsonValue {
  let i = 0;
  const skip = (): void => {
    WS.lastIndex = i;
    WS.exec(text);
    i = WS.lastIndex;
  };
  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at position ${i}`);
  };
  const readString = (): string => {
    // The JSON string grammar is JSON.parse's: find the closing quote, let it decode escapes.
    const start = i;
    i++;
    for (;;) {
      const c = text.charCodeAt(i);
      if (Number.isNaN(c)) fail('unterminated string');
      if (c === 0x22) break;
      if (c === 0x5c) i++;
      else if (c < 0x20) fail('control character in string');
      i++;
    }
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail('bad escape in string');
    }
  };
  const readValue = (depth: number): JsonValue => {
    skip();
    const c = text[i];
    if (c === '{') {
      if (depth >= maxNesting) fail('nesting too deep');
      i++;
      const obj: JsonObject = new Map();
      skip();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        skip();
        if (text[i] !== '"') fail('expected a key');
        const key = readString();
        skip();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        // A repeated key keeps its first position and its last value (as JSON.parse and Jackson do).
        obj.set(key, readValue(depth + 1));
        skip();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return obj;
        } else fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      if (depth >= maxNesting) fail('nesting too deep');
      i++;
      const arr: JsonValue[] = [];
      skip();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(readValue(depth + 1));
        skip();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return arr;
        } else fail("expected ',' or ']'");
      }
    }
    if (c === '"') return readString();
    if (text.startsWith('true', i)) return (i += 4), true;
    if (text.startsWith('false', i)) return (i += 5), false;
    if (text.startsWith('null', i)) return (i += 4), null;
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null) return fail('unexpected character');
    i = NUMBER.lastIndex;
    return new JsonNumber(m[0]);
  };
  const value = readValue(0);
  skip();
  if (i !== text.length) fail('unexpected text after the value');
  return value;
}

/** Compact JSON text of a value (keys in Map order, numbers as written). */
export function writeJson(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof JsonNumber) return v.raw;
  if (Array.isArray(v)) return `[${v.map(writeJson).join(',')}]`;
  let out = '{';
  let first = true;
  for (const [k, val] of v) {
    out += `${first ? '' : ','}${JSON.stringify(k)}:${writeJson(val)}`;
    first = false;
  }
  return `${out}}`;
}

/** Deep equality as the delta sees it: numbers by value, objects regardless of key order, arrays element by element. */
export function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (a instanceof JsonNumber) return b instanceof JsonNumber && a.value === b.value;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]!));
  if (isObject(a)) {
    if (!isObject(b) || a.size !== b.size) return false;
    for (const [k, v] of a) {
      const w = b.get(k);
      if (w === undefined || !jsonEqual(v, w)) return false;
    }
    return true;
  }
  return false;
}

/** A plain JavaScript view of a value (for tests, the CLI and JSON APIs): Maps become objects, numbers numbers. */
export function toPlain(v: JsonValue): unknown {
  if (v instanceof JsonNumber) return v.value;
  if (Array.isArray(v)) return v.map(toPlain);
  if (isObject(v)) return Object.fromEntries([...v].map(([k, x]) => [k, toPlain(x)]));
  return v;
}

/** Builds a JsonObject from entries, skipping undefined values (response builders list fields in AWS's order). */
export function obj(entries: ReadonlyArray<readonly [string, JsonValue | undefined]>): JsonObject {
  const m: JsonObject = new Map();
  for (const [k, v] of entries) if (v !== undefined) m.set(k, v);
  return m;
}
