/**
 * `thingport rules test|list|get|tables|traces`: try rules and look at what they stored without
 * the AWS CLI. Everything but `traces` works on the data directory's database (SQLite in WAL mode
 * lets this run beside a live server) or, for ad-hoc SQL, on nothing at all; `traces` live in the
 * running server's memory, so it asks the server (`GET /rules/{name}/traces`, SigV4-signed with
 * the admin key of `<data-dir>/aws-credentials`, at the address in `<data-dir>/endpoints.json`).
 * Argument parsing and output only; the work is the rules capability's.
 */
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { loadConfig, openDatabase, type SqliteDatabase, type ThingportConfig } from '../core/index.js';
import { signSigV4 } from '../http/index.js';
import { RulesError, openRulesReader, ruleView, type RuleAction, type RuleTestInput, type StoredRule } from '../rules/index.js';
import type { Endpoints } from '../main.js';

export const RULES_HELP = `Usage: thingport rules test RULE --topic TOPIC (--payload TEXT | --payload-file FILE)
                            [--client-id ID] [options]
       thingport rules test --sql "SELECT ..." --topic TOPIC (--payload TEXT | --payload-file FILE)
                            [--sql-version V] [--actions JSON] [--client-id ID] [options]
       thingport rules list [--json] [options]
       thingport rules get RULE [options]
       thingport rules traces RULE [options]
       thingport rules tables TABLE [--hash-key K [--range-key R]] [--limit N] [options]

Tries topic rules and shows what they stored (works while the server runs).

  test     Evaluates the stored rule RULE, or the ad-hoc SQL of --sql (no server or data
           directory needed), against one message: TOPIC and the payload bytes (--payload text,
           or a file's bytes; JSON payloads are what the SQL can read). Prints the same JSON as
           POST /rules/RULE/test: {"results": [{topic, matched, output, actions, error?}]}.
           No action runs; "actions" lists those that would. --actions checks ad-hoc actions
           (a JSON array of AWS Action objects); --client-id sets what clientid() returns.
           Exit 0: evaluated (matched or not); 1: no such rule, bad SQL or actions, or the
           evaluation failed; 2: usage.
  list     Every rule: name, enabled or disabled, FROM topic filter, action types.
           --json prints ListTopicRules' fields.
  get      The rule as GetTopicRule returns it (JSON); exit 1 when there is none.
  traces   The rule's last messages as the running server saw them (traceId, topic, matched,
           output, action results); needs the server running on this data directory.
  tables   Items of a local table (what dynamoDB / dynamoDBv2 actions wrote): the item under
           --hash-key (and --range-key), or up to --limit items (default 100, at most 1000).

Options: --data-dir DIR, --config FILE (and the other server settings, which are ignored here).
`;

export interface RulesCliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
const ACTIONS = ['test', 'list', 'get', 'traces', 'tables'] as const;
type Action = (typeof ACTIONS)[number];

/** Flags with a value; `--payload` may be empty (an empty message). */
const VALUE_FLAGS = new Set(['--sql', '--sql-version', '--topic', '--payload', '--payload-file', '--actions', '--client-id', '--hash-key', '--range-key', '--limit']);
/** Which flags each action takes. */
const FLAGS_OF: Record<Action, readonly string[]> = {
  test: ['sql', 'sql-version', 'topic', 'payload', 'payload-file', 'actions', 'client-id'],
  list: ['json'],
  get: [],
  traces: [],
  tables: ['hash-key', 'range-key', 'limit'],
};

interface Parsed {
  own: Record<string, string>;
  positional: string[];
  /** Everything else, for loadConfig (--data-dir, --config, ...). */
  configArgs: string[];
}

/** Runs `thingport rules ...`; returns the exit code (0 ok, 1 not found or failed, 2 usage). */
export async function runRules(args: readonly string[], io: RulesCliIo): Promise<number> {
  const [action, ...rest] = args;
  if (action === undefined || action === 'help' || args.includes('--help') || args.includes('-h')) {
    io.out(RULES_HELP);
    return action === undefined ? EXIT.usage : EXIT.ok;
  }
  if (!(ACTIONS as readonly string[]).includes(action)) {
    io.err(`thingport rules: unknown action "${action}"; use ${ACTIONS.join(', ')}\n`);
    return EXIT.usage;
  }
  const act = action as Action;
  const usage = (msg: string): number => {
    io.err(`thingport rules ${act}: ${msg}\n`);
    return EXIT.usage;
  };
  const parsed = parseArgs(rest);
  if (typeof parsed === 'string') return usage(parsed);
  const wrong = Object.keys(parsed.own).find((f) => !FLAGS_OF[act].includes(f));
  if (wrong !== undefined) return usage(`--${wrong} is not an option of this action`);
  const loaded = loadConfig({ argv: parsed.configArgs, env: io.env, cwd: io.cwd });
  if (!loaded.ok) {
    io.err(`thingport: invalid configuration:\n${loaded.problems.map((p) => `${p}\n`).join('')}`);
    return EXIT.usage;
  }
  const config = loaded.config;
  const { own, positional } = parsed;
  if (act === 'test') return test(own, positional, config, io, usage);
  if (act === 'list' && positional.length > 0) return usage(`unexpected argument "${positional[0]}"`);
  if (act !== 'list' && positional.length !== 1) return usage(`give exactly one ${act === 'tables' ? 'table' : 'rule'} name`);
  if (act === 'traces') return traces(positional[0]!, config, io);
  let limit: number | undefined;
  if (own.limit !== undefined) {
    limit = Number(own.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return usage('--limit must be a whole number from 1 to 1000');
  }
  if (own['range-key'] !== undefined && own['hash-key'] === undefined) return usage('--range-key needs --hash-key');
  return withDatabase(config, io, act, false, (db) => {
    const reader = openRulesReader({ db, region: config.region, accountId: config.accountId, config: config.rules, dataDir: config.dataDir });
    if (act === 'list') {
      const rules = reader.listRules();
      if (own.json !== undefined) io.out(`${JSON.stringify({ rules: rules.map(listed) }, null, 2)}\n`);
      else io.out(table(['NAME', 'STATUS', 'TOPIC', 'ACTIONS'], rules.map((r) => [r.ruleName, r.ruleDisabled ? 'disabled' : 'enabled', r.topicPattern, r.actions.map(kindOf).join(',')])));
      return EXIT.ok;
    }
    if (act === 'get') {
      const r = reader.getRule(positional[0]!);
      io.out(`${JSON.stringify(described(r), null, 2)}\n`);
      return EXIT.ok;
    }
    const query = { ...(own['hash-key'] !== undefined ? { hashKey: own['hash-key'] } : {}), ...(own['range-key'] !== undefined ? { rangeKey: own['range-key'] } : {}), ...(limit !== undefined ? { limit } : {}) };
    io.out(`${JSON.stringify({ items: reader.tableItems(positional[0]!, query) }, null, 2)}\n`);
    return EXIT.ok;
  });
}

/** `rules test`: one message through a stored rule or ad-hoc SQL. */
function test(own: Record<string, string>, positional: string[], config: ThingportConfig, io: RulesCliIo, usage: (m: string) => number): number {
  if (positional.length > 1) return usage(`unexpected argument "${positional[1]}"`);
  const ruleName = positional[0];
  if (ruleName === undefined && own.sql === undefined) return usage('give a rule name or --sql "SELECT ..."');
  if (own.topic === undefined) return usage('--topic is required (the topic the message is published to)');
  if ((own.payload === undefined) === (own['payload-file'] === undefined)) return usage('give the message as --payload TEXT or --payload-file FILE (one of them)');
  let payload: Buffer;
  if (own.payload !== undefined) payload = Buffer.from(own.payload, 'utf8');
  else {
    try {
      payload = readFileSync(own['payload-file']!);
    } catch (err) {
      return usage(`cannot read --payload-file: ${(err as Error).message}`);
    }
  }
  let actions: RuleAction[] | undefined;
  if (own.actions !== undefined) {
    try {
      actions = JSON.parse(own.actions) as RuleAction[];
    } catch {
      return usage('--actions must be JSON: an array of actions, e.g. \'[{"republish": {"topic": "out/t", "roleArn": "arn:aws:iam::000000000000:role/r"}}]\'');
    }
    if (!Array.isArray(actions) || actions.some((a) => a === null || typeof a !== 'object' || Array.isArray(a))) return usage('--actions must be a JSON array of action objects');
  }
  const input: RuleTestInput = {
    ...(own.sql !== undefined ? { sql: own.sql } : {}),
    ...(own['sql-version'] !== undefined ? { awsIotSqlVersion: own['sql-version'] } : {}),
    ...(actions !== undefined ? { actions } : {}),
    // The bytes as a device would publish them: the SQL parses JSON itself, as the engine does.
    messages: [{ topic: own.topic, payloadBase64: payload.toString('base64'), ...(own['client-id'] !== undefined ? { clientId: own['client-id'] } : {}) }],
  };
  // Ad-hoc SQL needs no data directory (get_dynamodb then reads empty tables).
  return withDatabase(config, io, 'test', own.sql !== undefined, (db) => {
    const reader = openRulesReader({ db, region: config.region, accountId: config.accountId, config: config.rules, dataDir: config.dataDir });
    const results = reader.testRule(ruleName ?? 'adhoc', input);
    io.out(`${JSON.stringify({ results }, null, 2)}\n`);
    return results.some((r) => r.error !== undefined) ? EXIT.failed : EXIT.ok;
  });
}

/** Opens the data directory's database (or, when `memoryOk`, an empty one if there is none) and maps rules errors to exit 1. */
function withDatabase(config: ThingportConfig, io: RulesCliIo, act: Action, memoryOk: boolean, run: (db: SqliteDatabase) => number): number {
  const file = join(config.dataDir, 'thingport.db');
  const exists = existsSync(file);
  if (!exists && !memoryOk) {
    io.err(`thingport rules ${act}: no Thingport database in ${config.dataDir}; start the server once (thingport serve) or pass --data-dir\n`);
    return EXIT.failed;
  }
  const db = openDatabase(exists ? file : ':memory:');
  try {
    return run(db);
  } catch (err) {
    if (!(err instanceof RulesError)) throw err;
    // The AWS error names users know from the API, for the two that are about their input.
    const type = err.code === 'rules.sql_parse' ? 'SqlParseException: ' : err.code === 'rules.invalid_request' ? 'InvalidRequestException: ' : '';
    io.err(`thingport rules ${act}: ${type}${err.message}\n`);
    return EXIT.failed;
  } finally {
    db.close();
  }
}

/** `rules traces`: the running server's `GET /rules/{name}/traces`, signed with the admin key. */
async function traces(ruleName: string, config: ThingportConfig, io: RulesCliIo): Promise<number> {
  const fail = (msg: string): number => {
    io.err(`thingport rules traces: ${msg}\n`);
    return EXIT.failed;
  };
  const notRunning = `traces live in the running server's memory, and no server is running on ${config.dataDir} (start it with thingport serve, or pass --data-dir)`;
  let ep: Endpoints;
  try {
    ep = JSON.parse(readFileSync(join(config.dataDir, 'endpoints.json'), 'utf8')) as Endpoints;
  } catch {
    return fail(notRunning);
  }
  if (!isAlive(ep.pid)) return fail(notRunning);
  const base = ep.http ?? ep.https;
  if (base === null) return fail('the server has neither its HTTP nor its HTTPS port open');
  const key = readCredentials(ep.credentialsFile, ep.profile);
  if (key === null) return fail(`no access key for profile ${ep.profile} in ${ep.credentialsFile}`);
  const url = `${base}/rules/${encodeURIComponent(ruleName)}/traces`;
  const headers = signSigV4({ method: 'GET', url }, { ...key, region: ep.region, service: 'iot' });
  let res: { status: number; body: string };
  try {
    res = await get(url, headers, ep.http === null ? readFileSync(ep.caFile) : null);
  } catch (err) {
    return fail(`the server at ${base} did not answer (${(err as Error).message})`);
  }
  let body: { traces?: unknown; __type?: string; message?: string };
  try {
    body = JSON.parse(res.body) as typeof body;
  } catch {
    return fail(`unexpected answer from ${url} (HTTP ${res.status})`);
  }
  if (res.status !== 200) return fail(body.__type === 'UnauthorizedException' ? `no rule ${ruleName}` : `${body.__type ?? `HTTP ${res.status}`}: ${body.message ?? ''}`);
  io.out(`${JSON.stringify(body, null, 2)}\n`);
  return EXIT.ok;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The profile's key from an AWS shared credentials file (INI). */
function readCredentials(file: string, profile: string): { accessKeyId: string; secretAccessKey: string } | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  let section = '';
  const values: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) section = s[1]!.trim();
    else if (section === profile && line.includes('=')) values[line.slice(0, line.indexOf('=')).trim()] = line.slice(line.indexOf('=') + 1).trim();
  }
  const id = values.aws_access_key_id;
  const secret = values.aws_secret_access_key;
  return id && secret ? { accessKeyId: id, secretAccessKey: secret } : null;
}

function get(url: string, headers: Record<string, string>, ca: Buffer | null): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const opts = { method: 'GET', headers, timeout: 10_000, ...(ca !== null ? { ca } : {}) };
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Splits off the rules flags and positional arguments; a string is a usage error. */
function parseArgs(args: readonly string[]): Parsed | string {
  const out: Parsed = { own: {}, positional: [], configArgs: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (flag === '--json') out.own.json = '';
    else if (VALUE_FLAGS.has(flag)) {
      const v = flag !== a ? a.slice(eq + 1) : args[++i];
      if (v === undefined || (v === '' && flag !== '--payload')) return `${flag} needs a value`;
      out.own[flag.slice(2)] = v;
    } else if (a.startsWith('-')) {
      out.configArgs.push(a);
      // A setting's value follows unless given as --flag=value or the flag is a boolean switch.
      const next = args[i + 1];
      if (eq < 0 && next !== undefined && !next.startsWith('-')) out.configArgs.push(args[++i]!);
    } else out.positional.push(a);
  }
  return out;
}

function kindOf(a: RuleAction): string {
  return Object.keys(a).find((k) => (a as Record<string, unknown>)[k] != null) ?? '?';
}

/** ListTopicRules' fields of a rule. */
function listed(r: StoredRule): Record<string, unknown> {
  return { ruleName: r.ruleName, ruleArn: r.ruleArn, topicPattern: r.topicPattern, ruleDisabled: r.ruleDisabled, createdAt: new Date(r.createdAt).toISOString(), actions: r.actions.map(kindOf) };
}

/** GetTopicRule's output shape, createdAt as ISO text, with the rule's tags. */
function described(r: StoredRule): Record<string, unknown> {
  return { ...ruleView(r, 'iso'), ...(Object.keys(r.tags).length > 0 ? { tags: r.tags } : {}) };
}

function table(header: string[], rows: string[][]): string {
  if (rows.length === 0) return 'No rules.\n';
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `${cells.map((c, i) => (i < cells.length - 1 ? c.padEnd(widths[i]!) : c)).join('  ')}\n`;
  return line(header) + rows.map(line).join('');
}
