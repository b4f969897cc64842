/** Type, encoding/hashing, time and context functions of AWS IoT SQL. */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { SqlFunction } from './context.js';
import { newUuid } from './functions-external.js';
import { parseJsonText } from './json.js';
import { formatTime, parseTime } from './time-format.js';
import { bytesOf, isPlainObject, stringify, toNumber } from './values.js';

function hash(alg: string): SqlFunction {
  return { min: 1, max: 1, fn: ([a]) => { const b = bytesOf(a); return b === undefined ? undefined : createHash(alg).update(b).digest('hex'); } };
}

function getElement(container: unknown, key: unknown): unknown {
  if (Array.isArray(container)) {
    const i = toNumber(key);
    return i === undefined || !Number.isInteger(i) ? undefined : container[i];
  }
  if (isPlainObject(container) && typeof key === 'string') return Object.hasOwn(container, key) ? container[key] : undefined;
  return undefined;
}

export const MISC_FUNCTIONS: Record<string, SqlFunction> = {
  // Type
  isundefined: { min: 1, max: 1, fn: ([a]) => a === undefined },
  isnull: { min: 1, max: 1, fn: ([a]) => a === null },
  isempty: { min: 1, max: 1, fn: ([a]) => a === '' || (Array.isArray(a) && a.length === 0) || (isPlainObject(a) && Object.keys(a).length === 0) },
  get: { min: 2, max: 2, fn: ([a, k]) => getElement(a, k) },
  get_or_default: { min: 2, max: 2, fn: ([a, d]) => (a === undefined || a === null ? d : a) },
  // Encoding and hashing
  encode: {
    min: 2,
    max: 2,
    fn: ([a, scheme]) => {
      if (typeof scheme !== 'string' || scheme.toLowerCase() !== 'base64') return undefined;
      return bytesOf(a)?.toString('base64');
    },
  },
  // decode(value, 'base64'); decode(value, 'proto', bucket, key, file, type) is compiled in compile.ts.
  decode: {
    min: 2,
    max: 6,
    fn: ([a, scheme]) => {
      if (typeof a !== 'string' || typeof scheme !== 'string' || scheme.toLowerCase() !== 'base64') return undefined;
      const text = Buffer.from(a, 'base64').toString('utf8');
      // [decode] a decoded JSON document is an addressable object; other text stays a String.
      try {
        return parseJsonText(text, false);
      } catch {
        return text;
      }
    },
  },
  md5: hash('md5'),
  sha1: hash('sha1'),
  sha224: hash('sha224'),
  sha256: hash('sha256'),
  sha384: hash('sha384'),
  sha512: hash('sha512'),
  crc32: { min: 1, max: 1, fn: ([a]) => { const b = bytesOf(a); return b === undefined ? undefined : crc32(b); } },
  // Time
  timestamp: { min: 0, max: 0, fn: (_a, ctx) => ctx.timestamp, volatile: true },
  parse_time: {
    min: 2,
    max: 3,
    fn: ([p, t, z]) => {
      const ms = toNumber(t);
      if (typeof p !== 'string' || ms === undefined || (z !== undefined && typeof z !== 'string')) return undefined;
      return formatTime(p, ms, (z as string | undefined) ?? 'UTC');
    },
  },
  time_to_epoch: { min: 2, max: 2, fn: ([s, p]) => (typeof s === 'string' && typeof p === 'string' ? parseTime(s, p) : undefined) },
  // Context
  topic: {
    min: 0,
    max: 1,
    volatile: true,
    fn: ([n], ctx) => {
      if (n === undefined) return ctx.topic;
      const i = toNumber(n);
      if (i === undefined || !Number.isInteger(i) || i < 1) return undefined;
      return topicLevel(ctx.topic, i);
    },
  },
  clientid: { min: 0, max: 0, volatile: true, fn: (_a, ctx) => ctx.clientId ?? 'n/a' },
  principal: { min: 0, max: 0, volatile: true, fn: (_a, ctx) => ctx.principal ?? undefined },
  sourceip: { min: 0, max: 0, volatile: true, fn: (_a, ctx) => ctx.sourceIp ?? undefined },
  traceid: { min: 0, max: 0, volatile: true, fn: (_a, ctx) => ctx.traceId },
  newuuid: { min: 0, max: 0, volatile: true, fn: (_a, ctx) => newUuid(ctx) },
  accountid: { min: 0, max: 0, volatile: true, fn: (_a, ctx) => ctx.accountId },
  // Compiled as a constant, the version of the rule being compiled (compile.ts); listed for its arity.
  sql_version: { min: 0, max: 0, fn: () => undefined },
  get_mqtt_property: {
    min: 1,
    max: 1,
    volatile: true,
    fn: ([name], ctx) => {
      const p = ctx.properties;
      if (p === null || typeof name !== 'string') return undefined;
      switch (name) {
        case 'format_indicator':
          return p.payloadFormatIndicator === undefined ? undefined : p.payloadFormatIndicator ? 'UTF8_DATA' : 'UNSPECIFIED_BYTES';
        case 'content_type':
          return p.contentType;
        case 'response_topic':
          return p.responseTopic;
        case 'correlation_data':
          return p.correlationData?.toString('base64');
        default:
          return undefined;
      }
    },
  },
  get_user_properties: {
    min: 0,
    max: 1,
    volatile: true,
    fn: ([key], ctx) => {
      const up = ctx.properties?.userProperties;
      if (up === undefined) return key === undefined ? undefined : undefined;
      const values = (k: string): string[] => { const v = up[k]; return v === undefined ? [] : Array.isArray(v) ? v : [v]; };
      // With a key: an Array of that key's values. Without: an Array of {key: value} objects.
      if (key !== undefined) {
        const k = stringify(key);
        if (k === undefined) return undefined;
        const v = values(k);
        return v.length === 0 ? undefined : v;
      }
      return Object.keys(up).flatMap((k) => values(k).map((v) => ({ [k]: v })));
    },
  },
};

/** The n-th level (1-based) of a topic, or undefined: topic(n) without splitting the whole topic. */
export function topicLevel(topic: string, n: number): string | undefined {
  let start = 0;
  for (let k = 1; k < n; k++) {
    const slash = topic.indexOf('/', start);
    if (slash === -1) return undefined;
    start = slash + 1;
  }
  const end = topic.indexOf('/', start);
  return end === -1 ? topic.slice(start) : topic.slice(start, end);
}
