/**
 * Actions whose AWS target maps to something on this machine: `cloudwatchLogs` -> Thingport's
 * log, `cloudwatchMetric` -> a gauge per namespace/name/unit that main.ts exports on /metrics.
 * (`s3` writes to the data directory by default: actions-s3.ts.)
 */
import type { Logger } from '../lib/index.js';
import type { CompiledAction } from './actions.js';
import type { RuleAction } from './model.js';
import { actionTemplate as template, type TemplateOptions } from './action-template.js';
import { toJsonText } from './output.js';

export function compileCloudwatchLogsAction(c: NonNullable<RuleAction['cloudwatchLogs']>, logger: Logger): CompiledAction {
  return {
    kind: 'cloudwatchLogs',
    failedAction: 'CloudwatchLogsAction',
    failedResource: c.logGroupName,
    run: async ({ output, ctx }) => {
      // The log event's message is the output as text, as CloudWatch Logs stores it: JSON written by
      // the SQL's own writer (a Decimal stays `7.0`), binary output as base64.
      logger.info({ logGroupName: c.logGroupName, topic: ctx.topic, traceId: ctx.traceId, message: Buffer.isBuffer(output) ? output.toString('base64') : toJsonText(output) }, 'rule log');
    },
  };
}

/** What cloudwatchMetric actions recorded: the last value, sample count and sum per metric. */
export interface CustomMetric {
  namespace: string;
  name: string;
  unit: string;
  last: number;
  count: number;
  sum: number;
  /** metricTimestamp when given (epoch seconds), else receipt time (ms). */
  at: number;
}

export class CustomMetrics {
  private readonly metrics = new Map<string, CustomMetric>();
  record(namespace: string, name: string, unit: string, value: number, at: number): void {
    const key = `${namespace}\0${name}\0${unit}`;
    const m = this.metrics.get(key);
    if (m === undefined) this.metrics.set(key, { namespace, name, unit, last: value, count: 1, sum: value, at });
    else {
      m.last = value;
      m.count++;
      m.sum += value;
      m.at = at;
    }
  }
  list(): CustomMetric[] {
    return [...this.metrics.values()].map((m) => ({ ...m }));
  }
}

export function compileCloudwatchMetricAction(c: NonNullable<RuleAction['cloudwatchMetric']>, sink: CustomMetrics, T: TemplateOptions): CompiledAction {
  const ns = template(c.metricNamespace, 'cloudwatchMetric.metricNamespace', T);
  const name = template(c.metricName, 'cloudwatchMetric.metricName', T);
  const value = template(c.metricValue, 'cloudwatchMetric.metricValue', T);
  const unit = template(c.metricUnit, 'cloudwatchMetric.metricUnit', T);
  const ts = c.metricTimestamp === undefined ? null : template(c.metricTimestamp, 'cloudwatchMetric.metricTimestamp', T);
  return {
    kind: 'cloudwatchMetric',
    failedAction: 'CloudwatchMetricAction',
    failedResource: `${c.metricNamespace}/${c.metricName}`,
    run: async ({ doc, ctx }) => {
      const v = Number(value(doc, ctx));
      if (!Number.isFinite(v)) throw new Error(`metricValue ${value(doc, ctx)} is not a number`);
      const t = ts === null ? ctx.timestamp : Number(ts(doc, ctx)) * 1000;
      sink.record(ns(doc, ctx), name(doc, ctx), unit(doc, ctx), v, Number.isFinite(t) ? t : ctx.timestamp);
    },
  };
}
