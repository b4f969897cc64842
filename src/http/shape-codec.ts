/**
 * Reading and writing values of a service model's shapes, as the rest-json protocol carries
 * them, with AWS's validation: types, required members, lengths, patterns, enums, ranges.
 *
 * - JSON body: timestamps are epoch seconds (fractional allowed) unless the model says
 *   otherwise, blobs are base64 strings, NaN/Infinity are strings.
 * - URI labels and query parameters: timestamps ISO 8601; headers: timestamps HTTP-date
 *   (RFC 7231), blobs base64, `jsonvalue` strings base64-encoded JSON text, lists comma-joined.
 *
 * Problems are collected, not thrown, so one response names every bad field, in the words AWS
 * uses: "Value 'x' at 'thingName' failed to satisfy constraint: Member must ...".
 */
import { memberBinding, resolveShape, type MemberBinding, type ServiceModel, type ShapeModel, type TimestampFormat } from './service-model.js';

export interface Problem {
  /** Dotted member path (`attributePayload.attributes`; list elements as `tags.1.member`). */
  path: string;
  value: unknown;
  constraint: string;
}

export type TextLocation = 'uri' | 'querystring' | 'header';

const MAX_RENDERED = 256;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Coral's wording: "1 validation error detected: Value ... ; Value ...". */
export function formatProblems(problems: readonly Problem[]): string {
  const n = problems.length;
  const parts = problems.map((p) => `Value ${render(p.value)} at '${p.path}' failed to satisfy constraint: ${p.constraint}`);
  return `${n} validation error${n === 1 ? '' : 's'} detected: ${parts.join('; ')}`;
}

function render(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  let text: string;
  if (typeof value === 'string') text = value;
  else if (value instanceof Uint8Array) text = `<${value.length} bytes>`;
  else if (value instanceof Date) text = Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = String(value);
  return `'${text.length > MAX_RENDERED ? `${text.slice(0, MAX_RENDERED)}...` : text}'`;
}

const join = (path: string, name: string): string => (path === '' ? name : `${path}.${name}`);
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

export class ShapeCodec {
  private readonly patterns = new Map<string, RegExp>();
  private readonly memberLists = new Map<string, Array<[string, MemberBinding]>>();

  constructor(readonly model: ServiceModel) {}

  shape(ref: string): ShapeModel {
    return resolveShape(this.model, ref);
  }

  /** The members of a structure with their bindings. */
  members(ref: string): ReadonlyArray<[string, MemberBinding]> {
    let list = this.memberLists.get(ref);
    if (list === undefined) {
      list = Object.entries(this.shape(ref).members ?? {}).map(([name, m]) => [name, memberBinding(m)]);
      this.memberLists.set(ref, list);
    }
    return list;
  }

  /** Reads a JSON value of shape `ref`; returns undefined (and records a problem) when it does not fit. */
  readJson(ref: string, value: unknown, path: string, problems: Problem[], timestampFormat?: TimestampFormat): unknown {
    if (value === null || value === undefined) return undefined;
    const shape = this.shape(ref);
    const bad = (what: string): undefined => {
      problems.push({ path, value, constraint: `Member must be ${what}` });
      return undefined;
    };
    switch (shape.type) {
      case 'string':
        if (typeof value !== 'string') return bad('a string');
        this.check(shape, value, path, problems);
        return value;
      case 'boolean':
        return typeof value === 'boolean' ? value : bad('a boolean');
      case 'integer':
      case 'long':
        if (typeof value !== 'number' || !Number.isInteger(value)) return bad('an integer');
        this.check(shape, value, path, problems);
        return value;
      case 'float':
      case 'double': {
        const n = typeof value === 'number' ? value : value === 'NaN' || value === 'Infinity' || value === '-Infinity' ? Number(value) : undefined;
        if (n === undefined) return bad('a number');
        this.check(shape, n, path, problems);
        return n;
      }
      case 'timestamp': {
        const format = timestampFormat ?? shape.timestampFormat ?? 'unixTimestamp';
        const date = format === 'unixTimestamp' ? (typeof value === 'number' ? new Date(value * 1000) : undefined) : typeof value === 'string' ? new Date(value) : undefined;
        return date && !Number.isNaN(date.getTime()) ? date : bad(format === 'unixTimestamp' ? 'a timestamp in epoch seconds' : 'a timestamp');
      }
      case 'blob': {
        if (typeof value !== 'string' || !BASE64.test(value)) return bad('base64-encoded binary');
        const bytes = Buffer.from(value, 'base64');
        this.check(shape, bytes, path, problems);
        return bytes;
      }
      case 'document':
        return value;
      case 'list': {
        if (!Array.isArray(value)) return bad('a list');
        this.check(shape, value, path, problems);
        return value.map((el, i) => {
          const p = join(path, `${i + 1}.member`);
          if (el === null) problems.push({ path: p, value: null, constraint: 'Member must not be null' });
          return this.readJson(shape.member!, el, p, problems);
        });
      }
      case 'map': {
        if (!isPlainObject(value)) return bad('a map');
        this.check(shape, value, path, problems);
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) {
          const keyProblems: Problem[] = [];
          this.readJson(shape.key!, k, path, keyProblems);
          if (keyProblems.length > 0) problems.push({ path, value: k, constraint: `Map keys must satisfy constraint: [${keyProblems.map((p) => p.constraint).join(', ')}]` });
          out[k] = this.readJson(shape.value!, v, join(path, k), problems);
        }
        return out;
      }
      case 'structure': {
        if (!isPlainObject(value)) return bad('a structure (JSON object)');
        const out = this.readBodyMembers(ref, value, path, problems);
        this.checkRequired(ref, out, path, problems);
        return out;
      }
    }
  }

  /** The JSON-body members of structure `ref` (members bound to the URI, query or headers are skipped). */
  readBodyMembers(ref: string, obj: Record<string, unknown>, path: string, problems: Problem[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, b] of this.members(ref)) {
      if (b.location !== undefined) continue;
      const v = this.readJson(b.shape, obj[b.locationName ?? name], join(path, name), problems, b.timestampFormat);
      if (v !== undefined) out[name] = v;
    }
    return out;
  }

  /** Records "Member must not be null" for each required member of `ref` missing from `obj`. */
  checkRequired(ref: string, obj: Record<string, unknown>, path: string, problems: Problem[]): void {
    for (const name of this.shape(ref).required ?? []) {
      if (obj[name] === undefined) problems.push({ path: join(path, name), value: null, constraint: 'Member must not be null' });
    }
  }

  /** Reads a scalar sent as text (URI label, query parameter, header). */
  readText(ref: string, text: string, path: string, problems: Problem[], location: TextLocation, binding?: MemberBinding): unknown {
    const shape = this.shape(ref);
    const bad = (what: string): undefined => {
      problems.push({ path, value: text, constraint: `Member must be ${what}` });
      return undefined;
    };
    switch (shape.type) {
      case 'string': {
        let value = text;
        if (binding?.jsonvalue) {
          value = Buffer.from(text, 'base64').toString('utf8');
          try {
            JSON.parse(value);
          } catch {
            return bad('base64-encoded JSON');
          }
        }
        this.check(shape, value, path, problems);
        return value;
      }
      case 'boolean':
        return text === 'true' ? true : text === 'false' ? false : bad('a boolean (true or false)');
      case 'integer':
      case 'long': {
        if (!/^-?\d+$/.test(text)) return bad('an integer');
        const n = Number(text);
        this.check(shape, n, path, problems);
        return n;
      }
      case 'float':
      case 'double': {
        const n = Number(text);
        if (text.trim() === '' || (Number.isNaN(n) && text !== 'NaN')) return bad('a number');
        this.check(shape, n, path, problems);
        return n;
      }
      case 'timestamp': {
        const format = binding?.timestampFormat ?? shape.timestampFormat ?? (location === 'header' ? 'rfc822' : 'iso8601');
        const date = format === 'unixTimestamp' ? (/^-?\d+(\.\d+)?$/.test(text) ? new Date(Number(text) * 1000) : undefined) : new Date(text);
        return date && !Number.isNaN(date.getTime()) ? date : bad('a timestamp');
      }
      case 'blob': {
        if (!BASE64.test(text)) return bad('base64-encoded binary');
        const bytes = Buffer.from(text, 'base64');
        this.check(shape, bytes, path, problems);
        return bytes;
      }
      default:
        return bad(`sent in the JSON body, not as text (${shape.type})`);
    }
  }

  /** Length, pattern, enum and range constraints of `shape` on an already typed value. */
  check(shape: ShapeModel, value: unknown, path: string, problems: Problem[]): void {
    const fail = (constraint: string): void => void problems.push({ path, value, constraint });
    const size =
      typeof value === 'string' ? value.length : value instanceof Uint8Array ? value.length : Array.isArray(value) ? value.length : isPlainObject(value) ? Object.keys(value).length : undefined;
    if (size !== undefined) {
      if (shape.max !== undefined && size > shape.max) fail(`Member must have length less than or equal to ${shape.max}`);
      if (shape.min !== undefined && size < shape.min) fail(`Member must have length greater than or equal to ${shape.min}`);
    } else if (typeof value === 'number') {
      if (shape.max !== undefined && value > shape.max) fail(`Member must have value less than or equal to ${shape.max}`);
      if (shape.min !== undefined && value < shape.min) fail(`Member must have value greater than or equal to ${shape.min}`);
    }
    if (typeof value === 'string') {
      if (shape.pattern !== undefined && !this.regex(shape).test(value)) fail(`Member must satisfy regular expression pattern: ${shape.pattern}`);
      if (shape.enum !== undefined && !shape.enum.includes(value)) fail(`Member must satisfy enum value set: [${shape.enum.join(', ')}]`);
    }
  }

  private regex(shape: ShapeModel): RegExp {
    const key = `${shape.patternFlags ?? 'u'}/${shape.pattern}`;
    let re = this.patterns.get(key);
    if (re === undefined) {
      // Coral matches the whole value (Java's matches()), so anchor.
      re = new RegExp(`^(?:${shape.pattern})$`, shape.patternFlags ?? 'u');
      this.patterns.set(key, re);
    }
    return re;
  }

  /** Writes a value of shape `ref` as JSON (undefined and null members are left out). */
  writeJson(ref: string, value: unknown, timestampFormat?: TimestampFormat): unknown {
    if (value === null || value === undefined) return undefined;
    const shape = this.shape(ref);
    switch (shape.type) {
      case 'timestamp':
        return formatTimestamp(value, timestampFormat ?? shape.timestampFormat ?? 'unixTimestamp');
      case 'blob':
        return toBytes(value).toString('base64');
      case 'float':
      case 'double':
        return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
      case 'list':
        return (value as unknown[]).map((el) => this.writeJson(shape.member!, el) ?? null);
      case 'map': {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          const w = this.writeJson(shape.value!, v);
          if (w !== undefined) out[k] = w;
        }
        return out;
      }
      case 'structure':
        return this.writeBodyMembers(ref, value as Record<string, unknown>);
      default:
        return value;
    }
  }

  /** The JSON-body members of structure `ref` (bound members are left to the caller). */
  writeBodyMembers(ref: string, obj: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, b] of this.members(ref)) {
      if (b.location !== undefined) continue;
      const w = this.writeJson(b.shape, obj[name], b.timestampFormat);
      if (w !== undefined) out[b.locationName ?? name] = w;
    }
    return out;
  }

  /** Writes a scalar (or a list of scalars, comma-joined) as a header value. */
  writeHeader(ref: string, value: unknown, binding?: MemberBinding): string {
    const shape = this.shape(ref);
    switch (shape.type) {
      case 'timestamp':
        return String(formatTimestamp(value, binding?.timestampFormat ?? shape.timestampFormat ?? 'rfc822'));
      case 'blob':
        return toBytes(value).toString('base64');
      case 'list':
        return (value as unknown[]).map((el) => this.writeHeader(shape.member!, el)).join(', ');
      case 'string':
        return binding?.jsonvalue ? Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64') : String(value);
      default:
        return String(value);
    }
  }
}

function formatTimestamp(value: unknown, format: TimestampFormat): number | string {
  const date = value instanceof Date ? value : new Date(value as string | number);
  if (format === 'iso8601') return date.toISOString();
  if (format === 'rfc822') return date.toUTCString();
  return date.getTime() / 1000;
}

function toBytes(value: unknown): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  const v = value as Uint8Array;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}
