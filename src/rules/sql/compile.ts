/**
 * Compiles a parsed statement into closures once, at rule creation; evaluating a message walks no
 * tree and parses nothing but the payload. Unknown functions, wrong argument counts and bad topic
 * filters are SqlParseException here, never a silent Undefined at run time.
 */
import type { Expr, Query, SelectItem } from './ast.js';
import type { ExternalCalls, SqlContext, SqlFunction, SqlLookups } from './context.js';
import { decimalOf, SqlDecimal } from './decimal.js';
import { SqlParseException, positionOf } from './errors.js';
import { awsLambda, getSecretFn, MAX_LAMBDA_CALLS, runWantedCall, SECRET_TYPES } from './functions-external.js';
import { MATH_FUNCTIONS } from './functions-math.js';
import { MISC_FUNCTIONS, topicLevel } from './functions-misc.js';
import { STRING_FUNCTIONS } from './functions-string.js';
import { parseJsonText } from './json.js';
import { parseSql } from './parser.js';
import { topicFilterProblem } from './topic-filter.js';
import { arithmetic, cast, CAST_TYPES, compare, equals, isPlainObject, stringify, toBoolean } from './values.js';

/** Where an expression is evaluated: the current document, and for nested queries the element alias and outer scope. */
export interface Env {
  doc: unknown;
  ctx: SqlContext;
  alias: string | null;
  aliasValue: unknown;
  outer: Env | null;
}
type Fn = (env: Env) => unknown;

export const SQL_VERSIONS = ['2015-10-08', '2016-03-23', 'beta'] as const;
export const DEFAULT_SQL_VERSION = '2015-10-08';

/** Functions of AWS's list that Thingport does not offer (they need AWS-only services). */
const UNSUPPORTED = new Set(['machinelearning_predict', 'md2', 'transform']);

/** Where an expression sits: the rule's statement (SELECT, WHERE) or an action's substitution template. */
type Place = 'statement' | 'template';

/**
 * Whether whole numbers written as Decimals (`7.0`) stay Decimal: SQL 2015-10-08 keeps them, with
 * 2016-03-23 (and beta) "numeric values that are whole numbers ... are processed as an Int"
 * (developer guide, "Data types").
 */
export function keepsWholeDecimals(sqlVersion: string): boolean {
  return sqlVersion === '2015-10-08';
}

export interface CompileOptions {
  sqlVersion?: string;
  lookups?: SqlLookups;
}

export interface CompiledSql {
  readonly topicFilter: string;
  readonly sqlVersion: string;
  /** The statement as written. */
  readonly text: string;
  /**
   * Two rules with the same text and version give the same output for the same message: nothing
   * in the statement differs per evaluation (newuuid(), rand(), lookups, aws_lambda()). The engine
   * evaluates such a statement once per message for all the rules that share it.
   */
  readonly shareable: boolean;
  /** The statement calls aws_lambda(): evaluate it with evaluateAsync. */
  readonly async: boolean;
  /** The rule's output for one message (an Object, a SELECT VALUE value, or the payload Buffer), or undefined when WHERE drops it. */
  evaluate(ctx: SqlContext): unknown;
  /** The same, for a payload the caller already parsed with `parsePayload` (one JSON.parse per message). */
  evaluateParsed(ctx: SqlContext, doc: unknown): unknown;
  /**
   * The same for a statement that calls aws_lambda(): evaluates, runs a call the evaluation needed,
   * and evaluates again with its result until no call is missing (at most MAX_LAMBDA_CALLS calls),
   * with the message's context (timestamp, traceid, newuuid values) the same in every pass.
   * Rejects when a call fails or times out. For other statements it is evaluateParsed.
   */
  evaluateAsync(ctx: SqlContext, doc: unknown): Promise<unknown>;
  /** The payload as the SQL sees it: parsed JSON, or undefined for a non-JSON payload. */
  readonly parsePayload: (payload: Buffer) => unknown;
}

const isObject = isPlainObject;

/**
 * JSON payloads parse to their value; anything else (binary, invalid JSON) is undefined and `*` is
 * the bytes. `decimals` (SQL 2015-10-08): numbers written `7.0` or `1e3` are Decimals (json.ts).
 */
export function parsePayload(payload: Buffer, decimals = false): unknown {
  // toString() without arguments is Node's UTF-8 fast path (no encoding lookup, no range checks).
  return payload.length === 0 ? undefined : parsePayloadText(payload.toString(), decimals);
}

/** The same for a payload already read as text (the evaluation worker reads it from its ring). */
export function parsePayloadText(text: string, decimals: boolean): unknown {
  if (text.length === 0) return undefined;
  try {
    return parseJsonText(text, decimals);
  } catch {
    return undefined;
  }
}

// Shared by every rule of the same reading mode: the engine parses a message once for all the rules
// whose parser is the same function.
const parseWithDecimals = (payload: Buffer): unknown => parsePayload(payload, true);
const parsePlain = (payload: Buffer): unknown => parsePayload(payload, false);

function isStringLiteral(e: Expr | undefined): e is Extract<Expr, { type: 'literal' }> & { value: string } {
  return e !== undefined && e.type === 'literal' && typeof e.value === 'string';
}

/** Functions whose result can differ between two evaluations of the same message (random, lookups of changing state, remote calls). */
const PER_EVALUATION = new Set(['newuuid', 'rand', 'get_dynamodb', 'get_thing_shadow', 'get_registry_data', 'aws_lambda']);

class Compiler {
  private readonly functions: Record<string, SqlFunction>;
  private readonly decimals: boolean;
  /** The compiled text calls aws_lambda(). */
  usesLambda = false;
  /** The compiled text calls a function in PER_EVALUATION. */
  perEvaluation = false;
  /** Nested queries around the expression being compiled: at 0 a name can only be a key of the payload. */
  private depth = 0;
  constructor(
    private readonly sql: string,
    private readonly lookups: SqlLookups,
    private readonly sqlVersion: string,
    private readonly place: Place,
  ) {
    this.decimals = keepsWholeDecimals(sqlVersion);
    this.functions = { ...MATH_FUNCTIONS, ...STRING_FUNCTIONS, ...MISC_FUNCTIONS, ...lookupFunctions(lookups) };
  }

  fail(msg: string, pos: number): never {
    const p = positionOf(this.sql, pos);
    throw new SqlParseException(msg, p.line, p.column);
  }

  expr(e: Expr, inCall = false): Fn {
    switch (e.type) {
      case 'literal': {
        let v = e.value;
        // [Data types] a number written with a point or exponent is a Decimal, even when whole.
        if (this.decimals && e.decimal === true && typeof v === 'number' && Number.isInteger(v)) v = new SqlDecimal(v, e.text);
        return () => v;
      }
      case 'ident': {
        const name = e.name;
        if (this.depth === 0)
          // Outside nested queries there is no alias and no outer scope: straight to the document.
          return (env) => {
            const d = env.doc;
            return isObject(d) && Object.hasOwn(d, name) ? d[name] : undefined;
          };
        return (env) => {
          for (let s: Env | null = env; s !== null; s = s.outer) {
            if (s.alias === name) return s.aliasValue;
            const d = s.doc;
            if (isObject(d) && Object.hasOwn(d, name)) return d[name];
          }
          return undefined;
        };
      }
      case 'star':
        // `*` is the whole input; as a function argument (encode(*, 'base64')) the payload bytes.
        return inCall ? (env) => (env.outer === null ? env.ctx.payload : env.doc) : (env) => (env.outer === null && env.doc === undefined ? env.ctx.payload : env.doc);
      case 'member': {
        const obj = this.expr(e.object);
        const name = e.name;
        return (env) => {
          const o = obj(env);
          return isObject(o) && Object.hasOwn(o, name) ? o[name] : undefined;
        };
      }
      case 'index': {
        const obj = this.expr(e.object);
        const idx = this.expr(e.index);
        return (env) => {
          const o = obj(env);
          const i = idx(env);
          if (Array.isArray(o)) return typeof i === 'number' && Number.isInteger(i) ? o[i < 0 ? o.length + i : i] : undefined;
          if (isObject(o) && typeof i === 'string') return Object.hasOwn(o, i) ? o[i] : undefined;
          return undefined;
        };
      }
      case 'unary': {
        const a = this.expr(e.operand);
        if (e.op === 'NOT')
          return (env) => {
            const b = toBoolean(a(env));
            return b === undefined ? undefined : !b;
          };
        const decimals = this.decimals;
        return (env) => arithmetic('-', 0, a(env), decimals);
      }
      case 'binary':
        return this.binary(e);
      case 'call':
        return this.call(e);
      case 'cast': {
        const a = this.expr(e.operand);
        const to = e.to.toLowerCase();
        if (!Object.hasOwn(CAST_TYPES, to)) this.fail(`cannot cast to ${e.to}; use Int, Decimal, Boolean or String`, e.pos);
        const decimals = this.decimals;
        return (env) => cast(a(env), to, decimals);
      }
      case 'case': {
        const subject = e.subject === null ? null : this.expr(e.subject);
        const whens = e.whens.map((w) => ({ when: this.expr(w.when), then: this.expr(w.then) }));
        const otherwise = e.otherwise === null ? null : this.expr(e.otherwise);
        return (env) => {
          const s = subject === null ? undefined : subject(env);
          for (const w of whens) {
            const v = w.when(env);
            if (subject === null ? toBoolean(v) === true : equals(s, v) === true) return w.then(env);
          }
          return otherwise === null ? undefined : otherwise(env);
        };
      }
      case 'array': {
        const items = e.items.map((i) => this.expr(i));
        // An Undefined element is left out, as an Undefined key is left out of an object.
        return (env) => {
          const out: unknown[] = [];
          for (const f of items) {
            const v = f(env);
            if (v !== undefined) out.push(v);
          }
          return out;
        };
      }
      case 'object': {
        const entries = e.entries.map((x) => ({ key: x.key, value: this.expr(x.value) }));
        return (env) => {
          const out: Record<string, unknown> = {};
          for (const x of entries) {
            const v = x.value(env);
            if (v !== undefined) out[x.key] = v;
          }
          return out;
        };
      }
      case 'subquery':
        return this.subquery(e.query);
    }
  }

  binary(e: Extract<Expr, { type: 'binary' }>): Fn {
    const l = this.expr(e.left);
    const r = this.expr(e.right);
    const decimals = this.decimals;
    switch (e.op) {
      case 'AND':
        return (env) => {
          const a = toBoolean(l(env));
          const b = toBoolean(r(env));
          return a === undefined || b === undefined ? undefined : a && b;
        };
      case 'OR':
        return (env) => {
          const a = toBoolean(l(env));
          const b = toBoolean(r(env));
          return a === undefined || b === undefined ? undefined : a || b;
        };
      case '=':
        return (env) => equals(l(env), r(env));
      case '<>':
        return (env) => {
          const v = equals(l(env), r(env));
          return v === undefined ? undefined : !v;
        };
      case '<':
        return (env) => { const c = compare(l(env), r(env)); return c === undefined ? undefined : c < 0; };
      case '<=':
        return (env) => { const c = compare(l(env), r(env)); return c === undefined ? undefined : c <= 0; };
      case '>':
        return (env) => { const c = compare(l(env), r(env)); return c === undefined ? undefined : c > 0; };
      case '>=':
        return (env) => { const c = compare(l(env), r(env)); return c === undefined ? undefined : c >= 0; };
      case 'IN':
        return (env) => {
          const a = l(env);
          const b = r(env);
          if (a === undefined || !Array.isArray(b)) return undefined;
          return b.some((x) => equals(a, x) === true);
        };
      case 'CONTAINS':
        return (env) => {
          const a = l(env);
          const b = r(env);
          if (Array.isArray(a)) return b === undefined ? undefined : a.some((x) => equals(x, b) === true);
          if (typeof a === 'string' && typeof b === 'string') return a.includes(b);
          return undefined;
        };
      case '||':
        return (env) => {
          const a = l(env);
          const b = r(env);
          if (a === undefined || b === undefined) return undefined;
          return `${stringify(a)}${stringify(b)}`;
        };
      case '+':
        return (env) => {
          const a = l(env);
          const b = r(env);
          // String + String concatenates unless both are numbers in text.
          if (typeof a === 'string' && typeof b === 'string') {
            const n = arithmetic('+', a, b, decimals);
            return n === undefined ? a + b : n;
          }
          return arithmetic('+', a, b, decimals);
        };
      default: {
        const op = e.op;
        return (env) => arithmetic(op, l(env), r(env), decimals);
      }
    }
  }

  call(e: Extract<Expr, { type: 'call' }>): Fn {
    const name = e.name.toLowerCase();
    if (UNSUPPORTED.has(name)) this.fail(`function ${e.name}() is not supported by Thingport (see docs/rules.md)`, e.pos);
    if (PER_EVALUATION.has(name)) this.perEvaluation = true;
    if (name === 'aws_lambda') return this.awsLambda(e);
    const a0 = e.args[0];
    if (name === 'topic' && e.args.length === 1 && a0?.type === 'literal' && typeof a0.value === 'number' && Number.isInteger(a0.value) && a0.value >= 1) {
      // topic(2) and the like: the level straight from the topic, no argument array, no split.
      const n = a0.value;
      return (env) => topicLevel(env.ctx.topic, n);
    }
    if (name === 'get_secret') return this.getSecret(e);
    const scheme = e.args[1];
    if (name === 'decode' && isStringLiteral(scheme) && scheme.value.toLowerCase() === 'proto') return this.decodeProto(e);
    const def = this.functions[name];
    if (def === undefined) this.fail(`unknown function ${e.name}()`, e.pos);
    if (name === 'decode') {
      if (scheme?.type === 'literal' && String(scheme.value).toLowerCase() !== 'base64')
        this.fail(`decode() scheme '${String(scheme.value)}' is not supported; use 'base64' or 'proto'`, scheme.pos);
      if (e.args.length !== 2) this.fail(`decode(value, 'base64') takes 2 arguments, got ${e.args.length}`, e.pos);
    }
    if (e.args.length < def!.min || e.args.length > def!.max)
      this.fail(`${e.name}() takes ${def!.min === def!.max ? def!.min : `${def!.min} to ${def!.max}`} arguments, got ${e.args.length}`, e.pos);
    if (name === 'sql_version') {
      const version = this.sqlVersion;
      return () => version;
    }
    const args = e.args.map((a) => this.expr(a, true));
    const fn = def!.fn;
    const returns = this.decimals ? def!.returns : undefined;
    if (returns === 'decimal')
      return (env) => {
        const v = fn(args.map((a) => a(env)), env.ctx);
        return typeof v === 'number' ? decimalOf(v) : v;
      };
    if (returns === 'decimalIfArg')
      return (env) => {
        const values = args.map((a) => a(env));
        const v = fn(values, env.ctx);
        // Int in, Int out; a Decimal or String argument makes the result a Decimal.
        return typeof v === 'number' && values.some((x) => typeof x !== 'number' || !Number.isInteger(x)) ? decimalOf(v) : v;
      };
    if (args.length === 0) return (env) => fn([], env.ctx);
    if (args.length === 1) {
      const a0 = args[0]!;
      return (env) => fn([a0(env)], env.ctx);
    }
    return (env) => fn(args.map((a) => a(env)), env.ctx);
  }

  /** aws_lambda(functionArn, inputJson): a configured local function; the SQL statement only. */
  awsLambda(e: Extract<Expr, { type: 'call' }>): Fn {
    if (this.place === 'template') this.fail('aws_lambda() cannot be used in a substitution template; call it in the rule\'s SELECT or WHERE', e.pos);
    const functions = this.lookups.functions;
    if (functions === undefined) this.fail('aws_lambda() needs Thingport local functions (rules.functions)', e.pos);
    if (e.args.length !== 2) this.fail(`aws_lambda(functionArn, inputJson) takes 2 arguments, got ${e.args.length}`, e.pos);
    const arn = e.args[0]!;
    if (isStringLiteral(arn) && !functions!.has(arn.value)) this.fail(`aws_lambda(): function ${arn.value} is not configured in rules.functions`, arn.pos);
    this.usesLambda = true;
    const f = this.expr(arn);
    // `*` is the whole input: the parsed JSON payload (base64 text for a binary one).
    const input = this.expr(e.args[1]!);
    return (env) => awsLambda([f(env), input(env)], env.ctx);
  }

  /** get_secret(secretId, secretType[, key], roleArn): substitution templates only (credentials for actions). */
  getSecret(e: Extract<Expr, { type: 'call' }>): Fn {
    if (this.place === 'statement')
      this.fail('get_secret() can be used only in the substitution templates of rule actions (such as an http header value), not in the SQL statement', e.pos);
    const lookup = this.lookups.getSecret;
    if (lookup === undefined) this.fail('get_secret() needs secrets from configuration (rules.secrets)', e.pos);
    if (e.args.length < 3 || e.args.length > 4) this.fail(`get_secret(secretId, secretType[, key], roleArn) takes 3 or 4 arguments, got ${e.args.length}`, e.pos);
    const [id, type] = e.args;
    if (isStringLiteral(id) && lookup!(id.value) === undefined) this.fail(`get_secret(): secret ${id.value} is not configured in rules.secrets`, id.pos);
    if (type?.type === 'literal' && !SECRET_TYPES.includes(String(type.value))) this.fail(`get_secret(): secretType must be SecretString or SecretBinary, got ${String(type.value)}`, type.pos);
    const fn = getSecretFn(lookup!);
    const args = e.args.map((a) => this.expr(a, true));
    return (env) => fn(args.map((a) => a(env)));
  }

  /** decode(value, 'proto', bucket, fileDescriptorSetKey, protoFileName, messageType): descriptor read now, bytes decoded per message. */
  decodeProto(e: Extract<Expr, { type: 'call' }>): Fn {
    if (this.place === 'template') this.fail("decode(…, 'proto', …) cannot be used in a substitution template", e.pos);
    const descriptors = this.lookups.protoDescriptors;
    if (descriptors === undefined) this.fail("decode(…, 'proto', …) needs Thingport's object store (a data directory)", e.pos);
    if (e.args.length !== 6) this.fail(`decode(value, 'proto', bucket, fileDescriptorSetKey, protoFileName, messageType) takes 6 arguments, got ${e.args.length}`, e.pos);
    const names = ['bucket', 'fileDescriptorSetKey', 'protoFileName', 'messageType'];
    const literals = e.args.slice(2).map((a, i) => {
      if (!isStringLiteral(a)) return this.fail(`decode(): ${names[i]} must be a string literal`, a.pos);
      return a.value;
    });
    let decoder;
    try {
      decoder = descriptors!.decoder(literals[0]!, literals[1]!, literals[2]!, literals[3]!);
    } catch (err) {
      return this.fail((err as Error).message, e.pos);
    }
    const value = this.expr(e.args[0]!, true);
    return (env) => {
      const v = value(env);
      // The payload bytes (`*`), or base64 text of them (a field of a JSON payload).
      const bytes = Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v, 'base64') : undefined;
      return bytes === undefined ? undefined : decoder(bytes);
    };
  }

  subquery(q: Query): Fn {
    if (!('expr' in q.from)) return this.fail('a nested query selects FROM an expression', 0);
    const from = this.expr(q.from.expr);
    const alias = q.from.alias;
    this.depth++;
    const where = q.where === null ? null : this.expr(q.where);
    const project = this.projection(q);
    this.depth--;
    return (env) => {
      const src = from(env);
      if (!Array.isArray(src)) return undefined;
      const out: unknown[] = [];
      for (const el of src) {
        const inner: Env = { doc: el, ctx: env.ctx, alias, aliasValue: el, outer: env };
        if (where !== null && toBoolean(where(inner)) !== true) continue;
        const v = project(inner);
        if (v !== undefined) out.push(v);
      }
      return out;
    };
  }

  /** The SELECT list as one function: an Object of the items (Undefined keys dropped), or the VALUE. */
  projection(q: Query): Fn {
    if (q.value) return this.expr(q.items[0]!.expr);
    const items = q.items.map((item, i) => ({ key: item.star ? null : keyOf(item, i), star: item.star, fn: this.expr(item.expr) }));
    if (items.length === 1 && items[0]!.star && q.items[0]!.expr.type === 'star') {
      // SELECT * passes the input through: the parsed JSON, or the bytes of a binary payload.
      return (env) => (env.outer === null && env.doc === undefined ? env.ctx.payload : env.doc);
    }
    if (items.every((it) => it.key !== null && it.key !== '__proto__')) return keyedProjection(items.map((it) => it.key!), items.map((it) => it.fn));
    return (env) => {
      const out: Record<string, unknown> = {};
      for (const it of items) {
        const v = it.fn(env);
        if (it.key === null) {
          if (isObject(v)) Object.assign(out, v);
        } else if (v !== undefined) defineKey(out, it.key, v);
      }
      return out;
    };
  }

  top(q: Query): { topic: string; evaluate: (ctx: SqlContext, doc: unknown) => unknown } {
    if (!('topic' in q.from)) return this.fail('FROM needs a topic filter', 0);
    const problem = topicFilterProblem(q.from.topic);
    if (problem !== null) this.fail(`invalid topic filter '${q.from.topic}': ${problem}`, q.from.pos);
    const where = q.where === null ? null : this.expr(q.where);
    const project = this.projection(q);
    return {
      topic: q.from.topic,
      evaluate: (ctx, doc) => {
        const env: Env = { doc, ctx, alias: null, aliasValue: undefined, outer: null };
        // [AWS IoT SQL, WHERE clause] the actions run only when the condition evaluates to true.
        if (where !== null && toBoolean(where(env)) !== true) return undefined;
        return project(env);
      },
    };
  }
}

/** Sets a key of a SELECT output, `__proto__` included (as a plain key, never the prototype). */
function defineKey(out: Record<string, unknown>, key: string, v: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  else out[key] = v;
}

/**
 * A SELECT list of named items (`SELECT temp, topic(2) AS device`) as a function written for its
 * keys. One loop shared by every rule (`out[key] = v`) sees every rule's keys at the same store
 * site, which V8 then handles as megamorphic — a third of an evaluation with ten rules of different
 * aliases. Written per statement, each store has one key and each output one shape. The keys enter
 * the source only as JSON string literals.
 */
function keyedProjection(keys: readonly string[], fns: readonly Fn[]): Fn {
  const body = keys.map((k, i) => `v = f[${i}](env); if (v !== undefined) out[${JSON.stringify(k)}] = v;`).join('\n');
  const make = new Function('f', `'use strict'; return (env) => { const out = {}; let v; ${body} return out; };`) as (f: readonly Fn[]) => Fn;
  return make(fns);
}

/** The output key of a SELECT item without alias: the last name of a path, a function's name, else `_N`. */
function keyOf(item: SelectItem, i: number): string {
  if (item.alias !== null) return item.alias;
  const e = item.expr;
  if (e.type === 'ident') return e.name;
  if (e.type === 'member') return e.name;
  if (e.type === 'call') return e.name;
  return `_${i + 1}`;
}

function lookupFunctions(l: SqlLookups): Record<string, SqlFunction> {
  const out: Record<string, SqlFunction> = {};
  const getDynamoDb = l.getDynamoDb;
  if (getDynamoDb)
    out['get_dynamodb'] = {
      min: 3,
      max: 6,
      volatile: true,
      fn: (a) => {
        if (typeof a[0] !== 'string' || typeof a[1] !== 'string') return undefined;
        // (table, key, value[, roleArn]) or (table, key, value, sortKey, sortValue[, roleArn])
        return a.length >= 5 && typeof a[3] === 'string' ? getDynamoDb(a[0], a[1], a[2], a[3], a[4]) : getDynamoDb(a[0], a[1], a[2]);
      },
    };
  const getThingShadow = l.getThingShadow;
  if (getThingShadow)
    out['get_thing_shadow'] = {
      min: 2,
      max: 3,
      volatile: true,
      fn: (a) => (typeof a[0] !== 'string' ? undefined : getThingShadow(a[0], a.length === 3 && typeof a[1] === 'string' ? a[1] : null)),
    };
  const getRegistryData = l.getRegistryData;
  if (getRegistryData) out['get_registry_data'] = { min: 1, max: 2, volatile: true, fn: (a) => (typeof a[0] === 'string' ? getRegistryData(a[0]) : undefined) };
  return out;
}

/** Parses and compiles a rule's SQL; throws SqlParseException with line and column. */
export function compileSql(sql: string, opts: CompileOptions = {}): CompiledSql {
  const sqlVersion = opts.sqlVersion ?? DEFAULT_SQL_VERSION;
  if (!(SQL_VERSIONS as readonly string[]).includes(sqlVersion))
    throw new SqlParseException(`unknown awsIotSqlVersion '${sqlVersion}'; use ${SQL_VERSIONS.join(', ')}`, 1, 1);
  const q = parseSql(sql);
  const decimals = keepsWholeDecimals(sqlVersion);
  const lookups = opts.lookups ?? {};
  const compiler = new Compiler(sql, lookups, sqlVersion, 'statement');
  const { topic, evaluate } = compiler.top(q);
  const parse = decimals ? parseWithDecimals : parsePlain;
  const functions = lookups.functions;
  const usesLambda = compiler.usesLambda && functions !== undefined;
  return {
    topicFilter: topic,
    sqlVersion,
    text: sql,
    shareable: !compiler.perEvaluation,
    async: usesLambda,
    parsePayload: parse,
    evaluate: (ctx) => evaluate(ctx, parse(ctx.payload)),
    evaluateParsed: evaluate,
    evaluateAsync: async (ctx, doc) => {
      if (!usesLambda) return evaluate(ctx, doc);
      const calls: ExternalCalls = { results: new Map(), wanted: [], stable: [], next: 0 };
      // A view of the caller's context with `calls` added: its getters (traceId) keep working.
      const c = Object.create(ctx, { calls: { value: calls, enumerable: true } }) as SqlContext;
      for (let made = 0; ; made++) {
        calls.wanted.length = 0;
        calls.next = 0;
        const out = evaluate(c, doc);
        if (calls.wanted.length === 0) return out;
        if (made >= MAX_LAMBDA_CALLS) throw new Error(`one message needed more than ${MAX_LAMBDA_CALLS} aws_lambda() calls`);
        // Only the first missing call is certain to have its real input: later ones in the same
        // pass may have been computed from a pending (Undefined) result. Calls run one at a time.
        await runWantedCall(c, functions!);
      }
    },
  };
}

/**
 * A statement's identity for sharing its evaluation between rules: rules whose statements have the
 * same key give the same output for the same message. Null when the statement is never shared.
 */
export function statementKey(sql: CompiledSql): string | null {
  return sql.shareable && !sql.async ? `${sql.sqlVersion}\n${sql.text}` : null;
}

/** For each statement, the index of the first earlier one with the same key (its evaluation is shared), or -1. */
export function leaderIndexes(statements: readonly CompiledSql[]): Int32Array {
  const leader = new Int32Array(statements.length).fill(-1);
  const first = new Map<string, number>();
  statements.forEach((sql, i) => {
    const key = statementKey(sql);
    if (key === null) return;
    const lead = first.get(key);
    if (lead === undefined) first.set(key, i);
    else leader[i] = lead;
  });
  return leader;
}

/** Compiles one expression for substitution templates (`${expr}` in action fields). */
export function compileExpression(text: string, opts: CompileOptions = {}): (doc: unknown, ctx: SqlContext) => unknown {
  const wrapped = `SELECT VALUE ${text} FROM '#'`;
  let f: Fn;
  try {
    f = new Compiler(wrapped, opts.lookups ?? {}, opts.sqlVersion ?? DEFAULT_SQL_VERSION, 'template').projection(parseSql(wrapped));
  } catch (err) {
    // Report positions within the expression, not within the wrapper statement.
    if (err instanceof SqlParseException && err.line === 1) {
      const column = Math.max(1, err.column - 'SELECT VALUE '.length);
      throw new SqlParseException(err.message.replace(/ \(line \d+, column \d+\)$/, ''), 1, column);
    }
    throw err;
  }
  return (doc, ctx) => f({ doc, ctx, alias: null, aliasValue: undefined, outer: null });
}
