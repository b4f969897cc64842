/**
 * The rules engine's counters on GET /metrics. http does not depend on the rules capability: the
 * shape below is what it needs, and main.ts passes a reader (`rules.metrics`) that fits it.
 * Like the broker metrics, every value is read when scraped; nothing runs per message here.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** A snapshot of the rules engine's counters (structurally, what `Rules.metrics()` returns). */
export interface RuleMetricsSnapshot {
  /** Per rule: messages evaluated, messages that passed WHERE, SQL evaluation errors. */
  rules: readonly { ruleName: string; evaluated: number; matched: number; sqlErrors: number }[];
  /** Per rule and action type: successful and failed executions. */
  actions: readonly { ruleName: string; action: string; succeeded: number; failed: number }[];
  errorActionFailures: number;
  queueDropped: number;
  queueDepth: number;
  /** Messages the evaluation worker could not take (it was behind), evaluated on the main thread instead. */
  workerRefused?: number;
  /** What cloudwatchMetric actions recorded: last value, sample count and sum per metric. */
  custom?: readonly { namespace: string; name: string; unit: string; last: number; count: number; sum: number }[];
}

/** Registers the `thingport_rule*` metrics on `registry`, each reading `read()` at scrape time. */
export function registerRuleMetrics(registry: Registry, prefix: string, read: () => RuleMetricsSnapshot): void {
  const registers = [registry];
  // Counters are reset and re-added on each scrape: the engine owns the running totals. A rule
  // that is deleted takes its series with it (its counters are forgotten with it).
  const perRule = (name: string, help: string, pick: (r: RuleMetricsSnapshot['rules'][number]) => number): void => {
    new Counter({
      name: prefix + name,
      help,
      labelNames: ['rule'],
      registers,
      collect() {
        this.reset();
        for (const r of read().rules) this.inc({ rule: r.ruleName }, pick(r));
      },
    });
  };
  perRule('rule_messages_evaluated_total', 'Messages a rule evaluated (its FROM matched, or a Basic Ingest topic named it).', (r) => r.evaluated);
  perRule('rule_messages_matched_total', 'Messages whose WHERE was true, so the rule produced output and ran its actions.', (r) => r.matched);
  perRule('rule_sql_errors_total', "Messages whose evaluation failed with an error (the rule's trace holds the message).", (r) => r.sqlErrors);
  new Counter({
    name: `${prefix}rule_action_total`,
    help: 'Rule action executions by rule, action type and result (success, or failure after retries).',
    labelNames: ['rule', 'action', 'result'],
    registers,
    collect() {
      this.reset();
      for (const a of read().actions) {
        this.inc({ rule: a.ruleName, action: a.action, result: 'success' }, a.succeeded);
        this.inc({ rule: a.ruleName, action: a.action, result: 'failure' }, a.failed);
      }
    },
  });
  new Counter({
    name: `${prefix}rule_error_action_failures_total`,
    help: "Rules' error actions that failed themselves.",
    registers,
    collect() {
      this.reset();
      this.inc(read().errorActionFailures);
    },
  });
  new Counter({
    name: `${prefix}rules_queue_dropped_total`,
    help: "Messages for rules dropped because the rules engine's queue was full (rules.maxQueue).",
    registers,
    collect() {
      this.reset();
      this.inc(read().queueDropped);
    },
  });
  new Counter({
    name: `${prefix}rules_worker_refused_total`,
    help: 'Messages the rules evaluation worker could not take when they arrived (it was behind), evaluated on the broker thread instead.',
    registers,
    collect() {
      this.reset();
      this.inc(read().workerRefused ?? 0);
    },
  });
  new Gauge({
    name: `${prefix}rules_queue_depth`,
    help: 'Messages waiting in the rules engine queue now (one per message and rule).',
    registers,
    collect() {
      this.set(read().queueDepth);
    },
  });
  // cloudwatchMetric actions: the metric a rule would have sent to CloudWatch, as Prometheus series.
  const custom = (name: string, help: string, pick: (m: NonNullable<RuleMetricsSnapshot['custom']>[number]) => number, type: 'gauge' | 'counter'): void => {
    const config = { name: prefix + name, help, labelNames: ['namespace', 'metric', 'unit'] as const, registers };
    if (type === 'gauge')
      new Gauge({
        ...config,
        collect() {
          this.reset();
          for (const m of read().custom ?? []) this.set({ namespace: m.namespace, metric: m.name, unit: m.unit }, pick(m));
        },
      });
    else
      new Counter({
        ...config,
        collect() {
          this.reset();
          for (const m of read().custom ?? []) this.inc({ namespace: m.namespace, metric: m.name, unit: m.unit }, pick(m));
        },
      });
  };
  custom('rule_cloudwatch_metric_value', 'Last value a cloudwatchMetric rule action recorded, by namespace, metric name and unit.', (m) => m.last, 'gauge');
  custom('rule_cloudwatch_metric_samples_total', 'Values cloudwatchMetric rule actions recorded, by namespace, metric name and unit.', (m) => m.count, 'counter');
  custom('rule_cloudwatch_metric_sum', 'Sum of the values cloudwatchMetric rule actions recorded (a gauge: values may be negative).', (m) => m.sum, 'gauge');
}
