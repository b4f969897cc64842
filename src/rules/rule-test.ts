/**
 * Rules you can test (beyond AWS): evaluate a stored rule, or ad-hoc SQL, against given messages
 * and report the output and which actions would fire — without firing them.
 */
import { randomUUID } from 'node:crypto';
import { compileAction, type ActionDeps } from './actions.js';
import { rulesErrors } from './errors.js';
import type { RuleAction } from './model.js';
import { compileSql, SqlParseException, topicMatches as topicMatchesFilter, type SqlContext } from './sql/index.js';
import type { RulesStore } from './store.js';

export interface RuleTestMessage {
  topic: string;
  /** A JSON value (sent as its JSON text), or use payloadBase64 for bytes. */
  payload?: unknown;
  payloadBase64?: string;
  clientId?: string;
  principal?: string;
  sourceIp?: string;
}

export interface RuleTestInput {
  /** Ad-hoc SQL instead of the stored rule's. */
  sql?: string;
  awsIotSqlVersion?: string;
  /** Ad-hoc actions (checked, never run); default: the stored rule's. */
  actions?: RuleAction[];
  messages: RuleTestMessage[];
}

export interface RuleTestResult {
  topic: string;
  /** FROM matched and WHERE was true. */
  matched: boolean;
  /** The SELECT output (bytes as `{ base64 }`). */
  output?: unknown;
  /** Actions that would run for this message. */
  actions: { action: string; resource: string }[];
  error?: string;
  /** Set when the SQL calls aws_lambda(): rule tests run no function, so those calls are Undefined. */
  note?: string;
}

const LAMBDA_NOTE = 'aws_lambda() calls are not run by rule tests; they evaluated as Undefined';

export function testRule(name: string, input: RuleTestInput, store: RulesStore, actionDeps: ActionDeps, accountId: string, now: () => number): RuleTestResult[] {
  const stored = input.sql === undefined ? store.getRule(name) : null;
  if (input.sql === undefined && stored === null) throw rulesErrors.noSuchRule(name);
  const sqlText = input.sql ?? stored!.sql;
  const version = input.awsIotSqlVersion ?? stored?.awsIotSqlVersion;
  let sql;
  try {
    sql = compileSql(sqlText, { ...(version !== undefined ? { sqlVersion: version } : {}), lookups: actionDeps.lookups });
  } catch (err) {
    if (err instanceof SqlParseException) throw rulesErrors.sql(err.message, err);
    throw err;
  }
  // Compiling checks the actions (templates, targets) without running them; the http action's
  // destination check is skipped so that a test never sends a confirmation.
  const actions = (input.actions ?? stored?.actions ?? []).map((a, i) => {
    if (a.http !== undefined) return { action: 'http', resource: a.http.url };
    const c = compileAction(a, actionDeps, `actions[${i}]`);
    return { action: c.kind, resource: c.failedResource };
  });
  if (!Array.isArray(input.messages)) throw rulesErrors.invalid('messages must be an array');
  return input.messages.map((m) => {
    const payload = m.payloadBase64 !== undefined ? Buffer.from(m.payloadBase64, 'base64') : Buffer.from(JSON.stringify(m.payload ?? {}));
    const ctx: SqlContext = {
      topic: m.topic,
      payload,
      clientId: m.clientId ?? null,
      principal: m.principal ?? null,
      sourceIp: m.sourceIp ?? null,
      traceId: randomUUID(),
      timestamp: now(),
      accountId,
      properties: null,
    };
    const topicOk = topicMatchesFilter(sql.topicFilter, m.topic);
    if (!topicOk) return { topic: m.topic, matched: false, actions: [] };
    try {
      const out = sql.evaluate(ctx);
      const note = sql.async ? { note: LAMBDA_NOTE } : {};
      if (out === undefined) return { topic: m.topic, matched: false, actions: [], ...note };
      return { topic: m.topic, matched: true, output: Buffer.isBuffer(out) ? { base64: out.toString('base64') } : out, actions, ...note };
    } catch (err) {
      return { topic: m.topic, matched: false, actions: [], error: (err as Error).message };
    }
  });
}
