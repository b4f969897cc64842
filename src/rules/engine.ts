/**
 * Runs rules: one in-process subscription per enabled rule's FROM filter, plus one for Basic Ingest
 * (`$aws/rules/{ruleName}/...`, which reaches only that rule). The subscription handler only
 * enqueues — the broker's publish path never waits for SQL or actions. A bounded queue is drained
 * off the publish path; overflow is counted (`queueDropped`), never unbounded memory.
 * Any failed action triggers the rule's errorAction once per message with AWS's error payload.
 */
import { randomUUID } from 'node:crypto';
import type { ClientInfo, Message, Messaging } from '../core/index.js';
import type { Logger } from '../lib/index.js';
import type { CompiledAction, Invocation } from './actions.js';
import type { CompiledSql, SqlContext } from './sql/index.js';

export interface RuntimeRule {
  name: string;
  sql: CompiledSql;
  actions: CompiledAction[];
  errorAction: CompiledAction | null;
}

/** Counters main.ts exposes on /metrics. */
export interface RulesMetrics {
  /** Per rule: messages evaluated, messages that passed WHERE, SQL evaluation errors. */
  rules: { ruleName: string; evaluated: number; matched: number; sqlErrors: number }[];
  /** Per rule and action type: failed executions (after retries), and successful ones. */
  actions: { ruleName: string; action: string; succeeded: number; failed: number }[];
  /** Error actions that failed themselves. */
  errorActionFailures: number;
  /** Messages dropped because the queue was full. */
  queueDropped: number;
  queueDepth: number;
}

/** One message's passage through a rule, kept in a small ring per rule (beyond AWS: rules you can inspect). */
export interface RuleTrace {
  traceId: string;
  topic: string;
  at: number;
  matched: boolean;
  /** The SELECT output (bytes as `{ base64 }`), when matched. */
  output?: unknown;
  error?: string;
  actions: { action: string; ok: boolean; error?: string }[];
}

/** How many traces each rule keeps. */
const TRACES_PER_RULE = 20;

interface Counters {
  evaluated: number;
  matched: number;
  sqlErrors: number;
  actions: Map<string, { succeeded: number; failed: number }>;
  traces: RuleTrace[];
}

interface Queued {
  rule: RuntimeRule;
  message: Message;
  client: ClientInfo | null;
  /** The topic the rule sees: a Basic Ingest topic without its `$aws/rules/{name}/` prefix. */
  topic: string;
}

export interface EngineDeps {
  messaging: Pick<Messaging, 'subscribe'>;
  accountId: string;
  logger: Logger;
  maxQueue: number;
  now?: () => number;
}

const BASIC_INGEST_PREFIX = '$aws/rules/';

export class RuleEngine {
  private readonly rules = new Map<string, { rule: RuntimeRule; unsubscribe: () => void }>();
  private readonly counters = new Map<string, Counters>();
  private readonly queue: Queued[] = [];
  private draining = false;
  private queueDropped = 0;
  private errorActionFailures = 0;
  private basicIngestOff: (() => void) | null = null;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly now: () => number;

  constructor(private readonly deps: EngineDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    this.basicIngestOff ??= this.deps.messaging.subscribe(`${BASIC_INGEST_PREFIX}#`, (m, c) => this.onBasicIngest(m, c));
  }

  stop(): void {
    this.basicIngestOff?.();
    this.basicIngestOff = null;
    for (const r of this.rules.values()) r.unsubscribe();
    this.rules.clear();
  }

  /** Starts (or restarts, after a replace) running a rule. */
  put(rule: RuntimeRule): void {
    this.remove(rule.name);
    const unsubscribe = this.deps.messaging.subscribe(rule.sql.topicFilter, (m, c) => this.enqueue(rule, m, c, m.topic));
    this.rules.set(rule.name, { rule, unsubscribe });
    if (!this.counters.has(rule.name)) this.counters.set(rule.name, { evaluated: 0, matched: 0, sqlErrors: 0, actions: new Map(), traces: [] });
  }

  remove(name: string): void {
    const r = this.rules.get(name);
    if (r === undefined) return;
    r.unsubscribe();
    this.rules.delete(name);
  }

  /** Forgets a deleted rule's counters too. */
  forget(name: string): void {
    this.remove(name);
    this.counters.delete(name);
  }

  /** `$aws/rules/{ruleName}[/rest]`: only that rule, whatever its FROM says (the broker keeps these from subscribers). */
  private onBasicIngest(m: Message, c: ClientInfo | null): void {
    const rest = m.topic.slice(BASIC_INGEST_PREFIX.length);
    const slash = rest.indexOf('/');
    const name = slash < 0 ? rest : rest.slice(0, slash);
    const r = this.rules.get(name);
    if (r === undefined) return;
    this.enqueue(r.rule, m, c, slash < 0 ? '' : rest.slice(slash + 1));
  }

  private enqueue(rule: RuntimeRule, message: Message, client: ClientInfo | null, topic: string): void {
    if (this.queue.length >= this.deps.maxQueue) {
      this.queueDropped++;
      return;
    }
    this.queue.push({ rule, message, client, topic });
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    // A bounded batch per turn so that a busy queue cannot starve socket I/O.
    const batch = this.queue.splice(0, 1000);
    for (const q of batch) this.process(q);
    if (this.queue.length > 0) setImmediate(() => this.drain());
    else {
      this.draining = false;
      this.checkIdle();
    }
  }

  private process(q: Queued): void {
    const counters = this.counters.get(q.rule.name);
    const ctx: SqlContext = {
      topic: q.topic,
      payload: q.message.payload,
      clientId: q.client?.clientId ?? null,
      principal: q.client?.principal ?? null,
      sourceIp: q.client?.remoteAddress ?? null,
      traceId: randomUUID(),
      timestamp: this.now(),
      accountId: this.deps.accountId,
      sqlVersion: q.rule.sql.sqlVersion,
      properties: q.message.properties,
    };
    if (counters) counters.evaluated++;
    let output: unknown;
    let doc: unknown;
    try {
      doc = q.rule.sql.parsePayload(q.message.payload);
      if (q.rule.sql.async) {
        // aws_lambda() in the SQL: evaluation waits for function calls, off the drain loop.
        this.inFlight++;
        void q.rule.sql
          .evaluateAsync(ctx, doc)
          .then(
            (out) => this.evaluated(q, ctx, doc, out, counters),
            (err: unknown) => this.evaluationFailed(q, ctx, err, counters),
          )
          .finally(() => {
            this.inFlight--;
            this.checkIdle();
          });
        return;
      }
      output = q.rule.sql.evaluateParsed(ctx, doc);
    } catch (err) {
      this.evaluationFailed(q, ctx, err, counters);
      return;
    }
    this.evaluated(q, ctx, doc, output, counters);
  }

  /**
   * An evaluation error (a failed or timed-out aws_lambda() call, a get_dynamodb error...): the
   * message does not reach the rule's actions, and — as on AWS, where the error action covers rule
   * actions only — not its errorAction either; it is counted, traced and logged.
   */
  private evaluationFailed(q: Queued, ctx: SqlContext, err: unknown, counters: Counters | undefined): void {
    if (counters) {
      counters.sqlErrors++;
      pushTrace(counters, { traceId: ctx.traceId, topic: q.topic, at: ctx.timestamp, matched: false, error: (err as Error).message, actions: [] });
    }
    this.deps.logger.warn({ err, rule: q.rule.name, topic: q.topic }, 'rule evaluation failed');
  }

  private evaluated(q: Queued, ctx: SqlContext, doc: unknown, output: unknown, counters: Counters | undefined): void {
    const trace: RuleTrace = { traceId: ctx.traceId, topic: q.topic, at: ctx.timestamp, matched: output !== undefined, actions: [] };
    if (counters) pushTrace(counters, trace);
    if (output === undefined) return;
    trace.output = Buffer.isBuffer(output) ? { base64: output.toString('base64') } : output;
    if (counters) counters.matched++;
    if (q.rule.actions.length === 0) return;
    this.inFlight++;
    void this.runActions(q, { output, doc, ctx }, counters, trace).finally(() => {
      this.inFlight--;
      this.checkIdle();
    });
  }

  private async runActions(q: Queued, inv: Invocation, counters: Counters | undefined, trace: RuleTrace): Promise<void> {
    const results = await Promise.allSettled(q.rule.actions.map((a) => a.run(inv)));
    const failures: { failedAction: string; failedResource: string; errorMessage: string }[] = [];
    results.forEach((r, i) => {
      const a = q.rule.actions[i]!;
      const c = counters ? counterOf(counters, a.kind) : null;
      if (r.status === 'fulfilled') {
        if (c) c.succeeded++;
        trace.actions.push({ action: a.kind, ok: true });
        return;
      }
      if (c) c.failed++;
      const msg = r.reason instanceof Error ? r.reason.message : String(r.reason);
      trace.actions.push({ action: a.kind, ok: false, error: msg });
      failures.push({ failedAction: a.failedAction, failedResource: a.failedResource, errorMessage: `${msg}. Message arrived on: ${q.topic}, Action: ${a.kind}` });
    });
    if (failures.length === 0 || q.rule.errorAction === null) return;
    // [Error handling (error action)] one message per rule and message, listing every failed action.
    const payload = {
      ruleName: q.rule.name,
      topic: q.topic,
      cloudwatchTraceId: inv.ctx.traceId,
      clientId: inv.ctx.clientId ?? 'n/a',
      base64OriginalPayload: q.message.payload.toString('base64'),
      failures,
    };
    try {
      await q.rule.errorAction.run({ output: payload, doc: payload, ctx: inv.ctx });
    } catch (err) {
      this.errorActionFailures++;
      this.deps.logger.warn({ err, rule: q.rule.name }, 'rule error action failed');
    }
  }

  /** Counters for /metrics. */
  metrics(): RulesMetrics {
    const rules: RulesMetrics['rules'] = [];
    const actions: RulesMetrics['actions'] = [];
    for (const [ruleName, c] of this.counters) {
      rules.push({ ruleName, evaluated: c.evaluated, matched: c.matched, sqlErrors: c.sqlErrors });
      for (const [action, a] of c.actions) actions.push({ ruleName, action, succeeded: a.succeeded, failed: a.failed });
    }
    return { rules, actions, errorActionFailures: this.errorActionFailures, queueDropped: this.queueDropped, queueDepth: this.queue.length };
  }

  /** The rule's most recent traces, oldest first (empty for an unknown rule). */
  traces(name: string): RuleTrace[] {
    return [...(this.counters.get(name)?.traces ?? [])];
  }

  /** Resolves when the queue is empty and no action is running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0 && !this.draining) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private checkIdle(): void {
    if (this.queue.length === 0 && this.inFlight === 0 && !this.draining) for (const w of this.idleWaiters.splice(0)) w();
  }
}

function pushTrace(c: Counters, t: RuleTrace): void {
  if (c.traces.length >= TRACES_PER_RULE) c.traces.shift();
  c.traces.push(t);
}

function counterOf(c: Counters, kind: string): { succeeded: number; failed: number } {
  let a = c.actions.get(kind);
  if (a === undefined) {
    a = { succeeded: 0, failed: 0 };
    c.actions.set(kind, a);
  }
  return a;
}

