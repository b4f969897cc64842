/**
 * Runs rules: one in-process subscription per distinct FROM filter of the enabled rules (rules
 * with the same filter share it), plus one for Basic Ingest (`$aws/rules/{ruleName}/...`, which
 * reaches only that rule). The subscription handler only enqueues — the broker's publish path
 * never waits for SQL or actions. A bounded queue is drained off the publish path; overflow is
 * counted (`queueDropped`), never unbounded memory. A message's payload is parsed once for all
 * the rules it reaches.
 * Any failed action triggers the rule's errorAction once per message with AWS's error payload.
 *
 * With the evaluation worker (`worker`, eval-offload.ts), a group whose statements all need nothing
 * from the main thread is evaluated on another core: its messages go to the worker's ring, and
 * only those that pass a rule with actions come back here to run them. A message the worker cannot
 * take now (ring full, or behind by `maxQueue`) is evaluated here, as every message is without it.
 */
import type { ClientInfo, Message, MessageProperties, Messaging } from '../core/index.js';
import type { Logger } from '../lib/index.js';
import type { CompiledAction, Invocation } from './actions.js';
import { decodeProperties, type WorkerResult } from './eval-ring.js';
import { contextNeeds, EvalOffload } from './eval-offload.js';
import { leaderIndexes, type CompiledSql, type SqlContext } from './sql/index.js';
import { MessageTrace, newTraceRing, nextTrace, readTraces, TRACES_PER_RULE, tracedOutput, type RuleTrace, type TraceRecord, type TraceRing } from './traces.js';

export type { RuleTrace } from './traces.js';

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
  /** Rule evaluations (message x rule) dropped because the queue was full. */
  queueDropped: number;
  /** Rule evaluations waiting now (here and in the evaluation worker). */
  queueDepth: number;
  /** Messages the evaluation worker could not take when they arrived (it was behind): evaluated on the main thread. */
  workerRefused: number;
}

/**
 * One message waiting for (or being evaluated by) the rules it reached: the queue entry and the
 * SqlContext of all those rules at once (one object per message). As on AWS, traceid() is the
 * message's, so two rules see the same id.
 */
class QueuedMessage implements SqlContext {
  /** timestamp(): set when the queue reaches it (one clock read per drain, not per message). */
  timestamp = 0;
  /** What its traces share; set with `timestamp`. */
  trace: MessageTrace | null = null;
  constructor(
    /** The rules it is queued for (a group's array at that moment, or one rule's for Basic Ingest). */
    readonly runners: readonly Runner[],
    /** The topic the rules see: a Basic Ingest topic without its `$aws/rules/{name}/` prefix. */
    readonly topic: string,
    readonly payload: Buffer,
    readonly clientId: string | null,
    readonly principal: string | null,
    readonly sourceIp: string | null,
    readonly accountId: string,
    readonly properties: MessageProperties | null,
  ) {}
  get traceId(): string {
    return this.trace!.traceId;
  }
}

/** A rule's counters and traces, by name (kept across replace, disable and enable). */
interface Counters {
  /** Evaluations on the main thread, plus those of the worker's retired slots of this rule. */
  evaluated: number;
  matched: number;
  sqlErrors: number;
  actions: Map<string, { succeeded: number; failed: number }>;
  /** Evaluations on the main thread. */
  traces: TraceRing;
  /** The rule's slots in the worker (the running one, and removed ones not yet retired): their counts add to the above. */
  slots: Set<number>;
  /** Action results of messages the worker evaluated, by trace id (the worker keeps those traces); the newest few. */
  actionResults: Map<string, NonNullable<TraceRecord['actions']>>;
  /** The newest traces of the worker's retired slots of this rule (a replaced rule keeps its traces). */
  retiredTraces: Omit<RuleTrace, 'actions'>[];
}

/** A running rule with its counters (kept on it so the hot path needs no lookup by name). */
interface Runner {
  rule: RuntimeRule;
  counters: Counters;
  /**
   * For Basic Ingest messages, which reach this rule only: a runner of its own (same rule and
   * counters) that never follows a leader.
   */
  alone: readonly Runner[];
  /**
   * An earlier runner of the same group whose statement is this one's (same text and version, and
   * shareable): its output for the message is this rule's too. Null when this rule evaluates.
   */
  leader: Runner | null;
  /** Some later runner of the group follows this one. */
  leads: boolean;
  /** Its slot in the evaluation worker, or -1 when the main thread evaluates it. */
  slot: number;
  /** Which rule holds the slot (slots are reused): asked with trace reads. */
  gen: number;
  /** The worker group of its Basic Ingest messages (this rule alone), or -1. */
  aloneGroup: number;
  /** What of a message's context the worker needs for this rule (eval-offload.ts contextNeeds). */
  needs: number;
  /** As a leader, during a drain: the entry last evaluated, its document, and its output or error. */
  lastEntry: QueuedMessage | null;
  lastDoc: unknown;
  lastOutput: unknown;
  lastError: unknown;
}

/** The rules sharing one FROM filter: one subscription, one queue entry per message for all of them. */
interface FilterGroup {
  /** Replaced, never changed in place: queued entries keep the set of rules they were queued for. */
  runners: readonly Runner[];
  /** The worker group of these runners, or -1 when one of them must run on the main thread. */
  wgroup: number;
  /** What of a message's context the worker group's rules read. */
  needs: number;
  unsubscribe: () => void;
}

/** Gives each runner of a group its leader: the first earlier runner with the same statement. */
function withLeaders(runners: Runner[]): readonly Runner[] {
  const lead = leaderIndexes(runners.map((r) => r.rule.sql));
  for (const r of runners) r.leads = false;
  runners.forEach((r, i) => {
    r.leader = lead[i]! >= 0 ? runners[lead[i]!]! : null;
    if (r.leader !== null) r.leader.leads = true;
  });
  return runners;
}

export interface EngineDeps {
  messaging: Pick<Messaging, 'subscribe'>;
  accountId: string;
  logger: Logger;
  /** Rule evaluations (message x rule) that may wait; beyond it they are dropped and counted. */
  maxQueue: number;
  /** Evaluate what can be in a worker thread (eval-offload.ts); off by default. */
  worker?: boolean;
  now?: () => number;
}

const BASIC_INGEST_PREFIX = '$aws/rules/';

export class RuleEngine {
  private readonly rules = new Map<string, Runner>();
  private readonly groups = new Map<string, FilterGroup>();
  private readonly counters = new Map<string, Counters>();
  /** Entries from `head` on are waiting; the slots before it are already processed (cleared). */
  private readonly queue: (QueuedMessage | undefined)[] = [];
  private head = 0;
  /** Evaluations waiting (an entry counts once per rule it is queued for). */
  private pending = 0;
  private draining = false;
  /** The last payload parsed, so the rules a message reaches parse it once. */
  private lastPayload: Buffer | null = null;
  private lastParser: ((payload: Buffer) => unknown) | null = null;
  private lastDoc: unknown = undefined;
  /** Runners that kept an evaluation for followers in the current drain. */
  private readonly leading: Runner[] = [];
  private queueDropped = 0;
  /** Messages for the worker that it could not take (ring full, or behind by maxQueue): evaluated here. */
  private workerRefused = 0;
  private errorActionFailures = 0;
  private basicIngestOff: (() => void) | null = null;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly now: () => number;
  private readonly drainFn = (): void => this.drain();
  /** The evaluation worker, when `worker` is on. */
  private readonly offload: EvalOffload | null;
  /** Runners by worker slot, until the worker retires the slot (results may still arrive after a remove). */
  private readonly slotRunners = new Map<number, Runner>();

  constructor(private readonly deps: EngineDeps) {
    this.now = deps.now ?? Date.now;
    this.offload = deps.worker
      ? new EvalOffload({
          accountId: deps.accountId,
          logger: deps.logger,
          maxPending: deps.maxQueue,
          onResult: (slot, r) => this.onWorkerResult(slot, r),
          onRetired: (slot, counts, traces) => this.onSlotRetired(slot, counts, traces),
          onError: (slot, error) => this.deps.logger.warn({ rule: this.slotRunners.get(slot)?.rule.name, error }, 'rule evaluation failed'),
          onLost: (evaluations) => {
            this.queueDropped += evaluations;
          },
          now: this.now,
        })
      : null;
  }

  start(): void {
    this.offload?.start();
    this.basicIngestOff ??= this.deps.messaging.subscribe(`${BASIC_INGEST_PREFIX}#`, (m, c) => this.onBasicIngest(m, c));
  }

  stop(): void {
    this.basicIngestOff?.();
    this.basicIngestOff = null;
    for (const g of this.groups.values()) g.unsubscribe();
    this.groups.clear();
    for (const name of [...this.rules.keys()]) this.remove(name);
  }

  /** Stops the evaluation worker (after `stop()` and `idle()`). */
  async close(): Promise<void> {
    await this.offload?.stop();
  }

  /** Starts (or restarts, after a replace) running a rule. */
  put(rule: RuntimeRule): void {
    this.remove(rule.name);
    let counters = this.counters.get(rule.name);
    if (counters === undefined) {
      counters = { evaluated: 0, matched: 0, sqlErrors: 0, actions: new Map(), traces: newTraceRing(), slots: new Set(), actionResults: new Map(), retiredTraces: [] };
      this.counters.set(rule.name, counters);
    }
    const off = this.offload;
    const place = off !== null && EvalOffload.canEvaluate(rule.sql) ? off.addRule(rule.sql, rule.actions.length > 0) : null;
    const slot = place?.slot ?? -1;
    // Basic Ingest reaches a rule alone: its own runner, which never follows a leader.
    const alone: Runner[] = [newRunner(rule, counters, [], slot)];
    const runner = newRunner(rule, counters, alone, slot);
    runner.gen = place?.gen ?? 0;
    if (slot >= 0) {
      runner.needs = alone[0]!.needs = contextNeeds(rule.sql, rule.actions.length > 0);
      counters.slots.add(slot);
      this.slotRunners.set(slot, runner);
      runner.aloneGroup = off!.addGroup([slot]);
    }
    this.rules.set(rule.name, runner);
    const filter = rule.sql.topicFilter;
    const group = this.groups.get(filter);
    if (group !== undefined) {
      this.setRunners(group, [...group.runners, runner]);
      return;
    }
    const g: FilterGroup = { runners: [], wgroup: -1, needs: 0, unsubscribe: () => {} };
    this.setRunners(g, [runner]);
    g.unsubscribe = this.deps.messaging.subscribe(filter, (m, c) => {
      if (g.wgroup >= 0 && this.offload!.submit(g.wgroup, g.runners.length, g.needs, m.topic, m, c)) return;
      if (g.wgroup >= 0) this.workerRefused++;
      this.enqueue(g.runners, m, c, m.topic);
    });
    this.groups.set(filter, g);
  }

  remove(name: string): void {
    const r = this.rules.get(name);
    if (r === undefined) return;
    this.rules.delete(name);
    if (r.slot >= 0) {
      this.offload!.removeGroup(r.aloneGroup);
      this.offload!.removeRule(r.slot);
    }
    const filter = r.rule.sql.topicFilter;
    const g = this.groups.get(filter);
    if (g === undefined) return;
    // Queued entries keep the old array; runners whose leader left get a new one (or lead).
    this.setRunners(
      g,
      g.runners.filter((x) => x !== r),
    );
    if (g.runners.length === 0) {
      g.unsubscribe();
      this.groups.delete(filter);
    }
  }

  /** A group's new set of runners: leaders, and the worker group (when every runner is the worker's). */
  private setRunners(g: FilterGroup, runners: Runner[]): void {
    g.runners = withLeaders(runners);
    const off = this.offload;
    if (off === null) return;
    off.removeGroup(g.wgroup);
    g.wgroup = runners.length > 0 && runners.every((r) => r.slot >= 0) ? off.addGroup(runners.map((r) => r.slot)) : -1;
    g.needs = runners.reduce((n, r) => n | r.needs, 0);
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
    const topic = slash < 0 ? '' : rest.slice(slash + 1);
    if (r.aloneGroup >= 0) {
      if (this.offload!.submit(r.aloneGroup, 1, r.needs, topic, m, c)) return;
      this.workerRefused++;
    }
    this.enqueue(r.alone, m, c, topic);
  }

  private enqueue(runners: readonly Runner[], message: Message, client: ClientInfo | null, topic: string): void {
    if (this.pending + runners.length > this.deps.maxQueue) {
      this.queueDropped += runners.length;
      return;
    }
    this.pending += runners.length;
    this.queue.push(new QueuedMessage(runners, topic, message.payload, client?.clientId ?? null, client?.principal ?? null, client?.remoteAddress ?? null, this.deps.accountId, message.properties));
    if (!this.draining) {
      this.draining = true;
      // After the current callback (one socket read, one API request): its deliveries are flushed
      // first (the broker uncorks on process.nextTick, which runs before microtasks).
      queueMicrotask(this.drainFn);
    }
  }

  /**
   * Processes every entry queued before it started. It runs as a microtask after the callback
   * that queued them — typically one socket read's worth of messages — so rules keep pace with
   * the broker (they share the thread: when rules cost more, the broker reads less) instead of
   * falling behind and dropping. Once per event-loop turn was not enough: a turn's reads can bring
   * tens of thousands of messages, and a fixed batch per turn (1,000 at first) dropped almost
   * everything under load. Entries queued while draining (a republish action feeding a rule) wait
   * for the next turn (setImmediate), so a rule that feeds itself cannot starve I/O.
   */
  private drain(): void {
    const end = this.queue.length;
    // The messages of one drain arrived in the same callback (one socket read): one clock read.
    const at = this.now();
    while (this.head < end) {
      const q = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      this.pending -= q.runners.length;
      q.timestamp = at;
      q.trace = new MessageTrace(q.topic, at);
      for (const r of q.runners) this.process(r, q);
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.lastPayload = null;
    this.lastParser = null;
    this.lastDoc = undefined;
    // What leaders kept for their followers may view a socket's read buffer: not past this drain.
    for (const r of this.leading) {
      r.lastEntry = null;
      r.lastDoc = r.lastOutput = r.lastError = undefined;
    }
    this.leading.length = 0;
    if (this.queue.length > this.head) setImmediate(this.drainFn);
    else {
      this.draining = false;
      this.checkIdle();
    }
  }

  /** The payload as the rule's SQL reads it; parsed once for all the rules one message reaches. */
  private parse(sql: CompiledSql, payload: Buffer): unknown {
    // The parsed document is shared by those rules (and their actions): nothing mutates it.
    if (payload === this.lastPayload && sql.parsePayload === this.lastParser) return this.lastDoc;
    const doc = sql.parsePayload(payload);
    this.lastPayload = payload;
    this.lastParser = sql.parsePayload;
    this.lastDoc = doc;
    return doc;
  }

  private process(runner: Runner, q: QueuedMessage): void {
    const { rule, counters } = runner;
    counters.evaluated++;
    const trace = nextTrace(counters.traces, q.trace!);
    const seq = trace.seq;
    const lead = runner.leader;
    if (lead !== null && lead.lastEntry === q) {
      // The same statement as an earlier rule of this message: its document and output (or error) are ours.
      if (lead.lastError !== undefined) this.evaluationFailed(rule, q, lead.lastError, counters, trace, seq);
      else this.evaluated(rule, q, lead.lastDoc, lead.lastOutput, counters, trace, seq);
      return;
    }
    const doc = this.parse(rule.sql, q.payload);
    if (rule.sql.async) {
      // aws_lambda() in the SQL: evaluation waits for function calls, off the drain loop. Until it
      // settles it still counts against maxQueue (queueDepth), so a burst is dropped and counted
      // rather than starting unbounded work.
      this.pending++;
      void rule.sql
        .evaluateAsync(q, doc)
        .then(
          (out) => this.evaluated(rule, q, doc, out, counters, trace, seq),
          (err: unknown) => this.evaluationFailed(rule, q, err, counters, trace, seq),
        )
        .finally(() => {
          this.pending--;
          this.checkIdle();
        });
      return;
    }
    let output: unknown;
    let error: unknown;
    try {
      output = rule.sql.evaluateParsed(q, doc);
    } catch (err) {
      error = err ?? new Error('evaluation failed');
    }
    if (runner.leads) {
      // Kept for the rules that follow it, until the end of this drain (see drain()).
      runner.lastEntry = q;
      runner.lastDoc = doc;
      runner.lastOutput = output;
      runner.lastError = error;
      this.leading.push(runner);
    }
    if (error !== undefined) this.evaluationFailed(rule, q, error, counters, trace, seq);
    else this.evaluated(rule, q, doc, output, counters, trace, seq);
  }

  /**
   * An evaluation error (a failed or timed-out aws_lambda() call, a get_dynamodb error...): the
   * message does not reach the rule's actions, and — as on AWS, where the error action covers rule
   * actions only — not its errorAction either; it is counted, traced and logged.
   */
  private evaluationFailed(rule: RuntimeRule, q: QueuedMessage, err: unknown, counters: Counters, trace: TraceRecord, seq: number): void {
    counters.sqlErrors++;
    if (trace.seq === seq) trace.error = (err as Error).message;
    this.deps.logger.warn({ err, rule: rule.name, topic: q.topic }, 'rule evaluation failed');
  }

  private evaluated(rule: RuntimeRule, q: QueuedMessage, doc: unknown, output: unknown, counters: Counters, trace: TraceRecord, seq: number): void {
    if (output === undefined) return;
    counters.matched++;
    const own = trace.seq === seq;
    if (own) {
      trace.matched = true;
      trace.output = tracedOutput(output);
    }
    if (rule.actions.length === 0) return;
    // The action results go to this list; the slot shows it while it is still this message's.
    const traced: NonNullable<TraceRecord['actions']> = [];
    if (own) trace.actions = traced;
    this.startActions(rule, q, { output, doc, ctx: q }, counters, traced);
  }

  /** A message the worker evaluated passed a rule with actions: run them here (the worker counted and traced it). */
  private onWorkerResult(slot: number, r: WorkerResult): void {
    const runner = this.slotRunners.get(slot);
    if (runner === undefined) return;
    const { rule, counters } = runner;
    const payload = Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength);
    const properties = r.properties === null ? null : (decodeProperties(r.properties) as MessageProperties);
    const q = new QueuedMessage(runner.alone, r.topic, payload, r.clientId, r.principal, r.sourceIp, this.deps.accountId, properties);
    q.timestamp = r.timestamp;
    q.trace = new MessageTrace(r.topic, r.timestamp, r.traceId);
    const traced: NonNullable<TraceRecord['actions']> = [];
    counters.actionResults.set(r.traceId, traced);
    // The worker keeps the last TRACES_PER_RULE traces; older action results are of no use.
    if (counters.actionResults.size > TRACES_PER_RULE * 2) counters.actionResults.delete(counters.actionResults.keys().next().value!);
    const doc = rule.sql.parsePayload(payload);
    let output = r.output;
    if (r.again === true) {
      // The output was nested too deep to cross threads: the same evaluation here, with the same context.
      try {
        output = rule.sql.evaluateParsed(q, doc);
      } catch (err) {
        this.deps.logger.warn({ err, rule: rule.name, topic: q.topic }, 'rule evaluation failed');
        return;
      }
      if (output === undefined) return;
    }
    this.startActions(rule, q, { output, doc, ctx: q }, counters, traced);
  }

  /** The worker is done with a slot of a removed rule: its counts stay with the rule's name. */
  private onSlotRetired(slot: number, counts: { evaluated: number; matched: number; sqlErrors: number }, traces: Omit<RuleTrace, 'actions'>[]): void {
    const runner = this.slotRunners.get(slot);
    this.slotRunners.delete(slot);
    if (runner === undefined) return;
    const c = runner.counters;
    if (!c.slots.delete(slot) || this.counters.get(runner.rule.name) !== c) return;
    c.evaluated += counts.evaluated;
    c.matched += counts.matched;
    c.sqlErrors += counts.sqlErrors;
    c.retiredTraces = newest([...c.retiredTraces, ...traces]);
  }

  private startActions(rule: RuntimeRule, q: QueuedMessage, inv: Invocation, counters: Counters, traced: NonNullable<TraceRecord['actions']>): void {
    this.inFlight++;
    void this.runActions(rule, q, inv, counters, traced).finally(() => {
      this.inFlight--;
      this.checkIdle();
    });
  }

  private async runActions(rule: RuntimeRule, q: QueuedMessage, inv: Invocation, counters: Counters, traced: NonNullable<TraceRecord['actions']>): Promise<void> {
    const results = await Promise.allSettled(rule.actions.map((a) => a.run(inv)));
    const failures: { failedAction: string; failedResource: string; errorMessage: string }[] = [];
    results.forEach((r, i) => {
      const a = rule.actions[i]!;
      const c = counterOf(counters, a.kind);
      if (r.status === 'fulfilled') {
        c.succeeded++;
        traced.push({ action: a.kind, ok: true });
        return;
      }
      c.failed++;
      const msg = r.reason instanceof Error ? r.reason.message : String(r.reason);
      traced.push({ action: a.kind, ok: false, error: msg });
      failures.push({ failedAction: a.failedAction, failedResource: a.failedResource, errorMessage: `${msg}. Message arrived on: ${q.topic}, Action: ${a.kind}` });
    });
    if (failures.length === 0 || rule.errorAction === null) return;
    // [Error handling (error action)] one message per rule and message, listing every failed action.
    const payload = {
      ruleName: rule.name,
      topic: q.topic,
      cloudwatchTraceId: inv.ctx.traceId,
      clientId: inv.ctx.clientId ?? 'n/a',
      base64OriginalPayload: q.payload.toString('base64'),
      failures,
    };
    try {
      await rule.errorAction.run({ output: payload, doc: payload, ctx: inv.ctx });
    } catch (err) {
      this.errorActionFailures++;
      this.deps.logger.warn({ err, rule: rule.name }, 'rule error action failed');
    }
  }

  /** A rule's counts: the main thread's (with retired worker slots) plus its live worker slots'. */
  private counts(c: Counters): { evaluated: number; matched: number; sqlErrors: number } {
    let { evaluated, matched, sqlErrors } = c;
    for (const slot of c.slots) {
      const w = this.offload!.counts(slot);
      evaluated += w.evaluated;
      matched += w.matched;
      sqlErrors += w.sqlErrors;
    }
    return { evaluated, matched, sqlErrors };
  }

  /** Counters for /metrics. */
  metrics(): RulesMetrics {
    const rules: RulesMetrics['rules'] = [];
    const actions: RulesMetrics['actions'] = [];
    for (const [ruleName, c] of this.counters) {
      rules.push({ ruleName, ...this.counts(c) });
      for (const [action, a] of c.actions) actions.push({ ruleName, action, succeeded: a.succeeded, failed: a.failed });
    }
    return { rules, actions, errorActionFailures: this.errorActionFailures, queueDropped: this.queueDropped, queueDepth: this.pending + (this.offload?.pending() ?? 0), workerRefused: this.workerRefused };
  }

  /**
   * The rule's most recent traces, oldest first (empty for an unknown rule): those of the main
   * thread and, for a rule the worker evaluates, the worker's, with the action results run here.
   */
  async traces(name: string): Promise<RuleTrace[]> {
    const c = this.counters.get(name);
    if (c === undefined) return [];
    const own = readTraces(c.traces);
    if (c.slots.size === 0 && c.retiredTraces.length === 0) return own;
    const live: Omit<RuleTrace, 'actions'>[] = [];
    for (const slot of [...c.slots]) {
      const r = this.slotRunners.get(slot);
      if (r !== undefined) live.push(...(await this.offload!.traces(slot, r.gen)));
    }
    // Read after the awaits: a slot retired meanwhile handed its traces over to this list (so the
    // same trace may be in both: one per trace id).
    const worker = new Map([...c.retiredTraces, ...live].map((t) => [t.traceId, t]));
    return newest([...own, ...[...worker.values()].map((t) => ({ ...t, actions: [...(c.actionResults.get(t.traceId) ?? [])] }))]);
  }

  /** Resolves when nothing is queued (here or in the worker) and no action is running (tests, shutdown). */
  async idle(): Promise<void> {
    const off = this.offload;
    for (;;) {
      const before = off?.messages ?? 0;
      // Whatever the worker was given before this point is evaluated and its matches handed over...
      await off?.sync();
      // ...and their actions have run;
      await this.localIdle();
      // unless those actions (a republish) gave the worker more meanwhile: then again.
      if ((off?.messages ?? 0) === before && this.pending === 0 && this.inFlight === 0 && !this.draining) return;
    }
  }

  private localIdle(): Promise<void> {
    if (this.pending === 0 && this.inFlight === 0 && !this.draining) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private checkIdle(): void {
    if (this.pending === 0 && this.inFlight === 0 && !this.draining) for (const w of this.idleWaiters.splice(0)) w();
  }
}

/** The newest TRACES_PER_RULE traces, oldest first (merged by arrival; sort is stable). */
function newest<T extends { at: number }>(traces: T[]): T[] {
  traces.sort((a, b) => a.at - b.at);
  return traces.length > TRACES_PER_RULE ? traces.slice(traces.length - TRACES_PER_RULE) : traces;
}

function newRunner(rule: RuntimeRule, counters: Counters, alone: readonly Runner[], slot: number): Runner {
  return { rule, counters, alone, leader: null, leads: false, slot, gen: 0, aloneGroup: -1, needs: 0, lastEntry: null, lastDoc: undefined, lastOutput: undefined, lastError: undefined };
}

function counterOf(c: Counters, kind: string): { succeeded: number; failed: number } {
  let a = c.actions.get(kind);
  if (a === undefined) {
    a = { succeeded: 0, failed: 0 };
    c.actions.set(kind, a);
  }
  return a;
}
