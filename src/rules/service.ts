/**
 * The rules engine's service: what the AWS API, the CLI and configuration call. It validates and
 * compiles a rule (SQL and actions) before storing it — a rule that is stored always runs — and
 * keeps the running engine in step with the store.
 */
import { arn as makeArn, type Messaging } from '../core/index.js';
import type { Logger } from '../lib/index.js';
import { compileAction, type ActionDeps, type CompiledAction } from './actions.js';
import type { Destinations } from './destinations.js';
import { RuleEngine, type RuleTrace, type RuntimeRule } from './engine.js';
import { RulesError, rulesErrors } from './errors.js';
import type { RuleAction, RulePayload, StoredRule } from './model.js';
import { parseRulePayload } from './rule-payload.js';
import { compileSql, DEFAULT_SQL_VERSION, SqlParseException, type CompiledSql } from './sql/index.js';
import type { RulesStore } from './store.js';
import { testRule, type RuleTestInput, type RuleTestResult } from './rule-test.js';

/** [CreateTopicRule] ruleName: 1-128 characters of `[a-zA-Z0-9_]`. */
const RULE_NAME = /^[a-zA-Z0-9_]{1,128}$/;
/** [AWS IoT quotas] at most 10 actions per rule. */
const MAX_ACTIONS = 10;

export interface RulesServiceDeps {
  store: RulesStore;
  messaging: Pick<Messaging, 'subscribe' | 'publish'>;
  destinations: Destinations;
  actionDeps: Omit<ActionDeps, 'store' | 'destinations' | 'messaging'>;
  region: string;
  accountId: string;
  logger: Logger;
  maxQueue: number;
  /** Evaluate what can be in a worker thread (see RuleEngine). */
  worker?: boolean;
  now?: () => number;
}

export class RulesService {
  readonly engine: RuleEngine;
  private readonly now: () => number;
  private readonly actionDeps: ActionDeps;

  constructor(private readonly deps: RulesServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.engine = new RuleEngine({ messaging: deps.messaging, accountId: deps.accountId, logger: deps.logger, maxQueue: deps.maxQueue, worker: deps.worker ?? false, now: this.now });
    this.actionDeps = { ...deps.actionDeps, store: deps.store, destinations: deps.destinations, messaging: deps.messaging };
  }

  /**
   * Creates or replaces the configured rules (`rules.definitions`; an invalid one throws, naming it),
   * then compiles and runs every stored enabled rule; a stored rule that no longer compiles is
   * logged and skipped.
   */
  start(definitions: Readonly<Record<string, unknown>> = {}): void {
    // Running first, so that the configured rules go to the evaluation worker too.
    this.engine.start();
    for (const [name, raw] of Object.entries(definitions)) {
      try {
        this.putRule(name, parseRulePayload(raw));
      } catch (err) {
        this.engine.stop();
        void this.engine.close();
        throw new RulesError((err as RulesError).code ?? 'rules.invalid_request', `rules.definitions.${name}: ${(err as Error).message}`, { cause: err });
      }
    }
    for (const r of this.deps.store.listRules()) {
      if (r.ruleDisabled || Object.hasOwn(definitions, r.ruleName)) continue;
      try {
        this.engine.put(this.compile(r));
      } catch (err) {
        this.deps.logger.error({ err, rule: r.ruleName }, 'stored rule does not compile; not running it');
      }
    }
  }

  stop(): void {
    this.engine.stop();
  }

  ruleArn(name: string): string {
    return makeArn(this.deps.region, this.deps.accountId, `rule/${name}`);
  }

  private checkName(name: string): void {
    if (!RULE_NAME.test(name)) throw rulesErrors.invalid(`ruleName ${name} must be 1 to 128 characters of a-z, A-Z, 0-9 and _`);
  }

  private compileSqlOf(sql: string, version: string): CompiledSql {
    try {
      return compileSql(sql, { sqlVersion: version, lookups: this.deps.actionDeps.lookups });
    } catch (err) {
      if (err instanceof SqlParseException) throw rulesErrors.sql(err.message, err);
      throw err;
    }
  }

  private compile(r: StoredRule): RuntimeRule {
    const sql = this.compileSqlOf(r.sql, r.awsIotSqlVersion);
    const actions: CompiledAction[] = r.actions.map((a, i) => compileAction(a, this.actionDeps, `actions[${i}]`, r.awsIotSqlVersion));
    const errorAction = r.errorAction === null ? null : compileAction(r.errorAction, this.actionDeps, 'errorAction', r.awsIotSqlVersion);
    return { name: r.ruleName, sql, actions, errorAction };
  }

  private build(name: string, payload: RulePayload, createdAt: number, tags: Record<string, string>): { stored: StoredRule; runtime: RuntimeRule } {
    if (typeof payload?.sql !== 'string' || payload.sql.trim() === '') throw rulesErrors.invalid('topicRulePayload.sql is required');
    const actions = (payload.actions ?? []) as RuleAction[];
    if (actions.length > MAX_ACTIONS) throw rulesErrors.invalid(`a rule has at most ${MAX_ACTIONS} actions, got ${actions.length}`);
    const version = payload.awsIotSqlVersion ?? DEFAULT_SQL_VERSION;
    const stored: StoredRule = {
      ruleName: name,
      ruleArn: this.ruleArn(name),
      sql: payload.sql,
      description: payload.description ?? null,
      actions,
      errorAction: (payload.errorAction as RuleAction | undefined) ?? null,
      ruleDisabled: payload.ruleDisabled ?? false,
      awsIotSqlVersion: version,
      topicPattern: '',
      createdAt,
      tags,
    };
    const runtime = this.compile(stored);
    stored.topicPattern = runtime.sql.topicFilter;
    return { stored, runtime };
  }

  createRule(name: string, payload: RulePayload, tags: Record<string, string> = {}): StoredRule {
    this.checkName(name);
    if (this.deps.store.getRule(name) !== null) throw rulesErrors.alreadyExists(name);
    const { stored, runtime } = this.build(name, payload, this.now(), tags);
    if (!this.deps.store.insertRule(stored)) throw rulesErrors.alreadyExists(name);
    if (!stored.ruleDisabled) this.engine.put(runtime);
    return stored;
  }

  getRule(name: string): StoredRule {
    this.checkName(name);
    const r = this.deps.store.getRule(name);
    if (r === null) throw rulesErrors.noSuchRule(name);
    return r;
  }

  listRules(filter: { topic?: string; ruleDisabled?: boolean } = {}): StoredRule[] {
    return this.deps.store.listRules().filter((r) => (filter.topic === undefined || r.topicPattern === filter.topic) && (filter.ruleDisabled === undefined || r.ruleDisabled === filter.ruleDisabled));
  }

  replaceRule(name: string, payload: RulePayload): StoredRule {
    const cur = this.getRule(name);
    const { stored, runtime } = this.build(name, payload, cur.createdAt, cur.tags);
    this.deps.store.updateRule(stored);
    if (stored.ruleDisabled) this.engine.remove(name);
    else this.engine.put(runtime);
    return stored;
  }

  /** Creates the rule, or replaces it (keeping createdAt and tags): Thingport's PUT and rules.definitions. */
  putRule(name: string, payload: RulePayload): { rule: StoredRule; created: boolean } {
    this.checkName(name);
    if (this.deps.store.getRule(name) === null) {
      try {
        return { rule: this.createRule(name, payload), created: true };
      } catch (err) {
        // Created by someone else in between: replace it.
        if (!(err instanceof RulesError && err.code === 'rules.already_exists')) throw err;
      }
    }
    return { rule: this.replaceRule(name, payload), created: false };
  }

  deleteRule(name: string): void {
    this.checkName(name);
    // AWS: deleting a rule that does not exist is UnauthorizedException too.
    if (!this.deps.store.deleteRule(name)) throw rulesErrors.noSuchRule(name);
    this.engine.forget(name);
  }

  /** The rule's recent per-message traces (traceid, matched, output, action results). */
  async traces(name: string): Promise<RuleTrace[]> {
    this.getRule(name);
    return this.engine.traces(name);
  }

  /** Evaluates the stored rule (or `input.sql`) against messages without running any action. */
  testRule(name: string, input: RuleTestInput): RuleTestResult[] {
    this.checkName(name);
    return testRule(name, input, this.deps.store, this.actionDeps, this.deps.accountId, this.now);
  }

  setEnabled(name: string, enabled: boolean): void {
    const cur = this.getRule(name);
    if (cur.ruleDisabled === !enabled) return;
    const next = { ...cur, ruleDisabled: !enabled };
    if (enabled) this.engine.put(this.compile(next));
    else this.engine.remove(name);
    this.deps.store.updateRule(next);
  }
}

