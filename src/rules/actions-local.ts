/**
 * Actions whose AWS target maps to something on this machine: `s3` -> files under the data
 * directory (`<dataDir>/s3/<bucket>/<key>`), `cloudwatchLogs` -> Thingport's log,
 * `cloudwatchMetric` -> a gauge per namespace/name/unit that main.ts exports on /metrics.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Logger } from '../lib/index.js';
import type { CompiledAction } from './actions.js';
import { rulesErrors } from './errors.js';
import type { RuleAction } from './model.js';
import { compileTemplate, toJsonText, type SqlLookups } from './sql/index.js';

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Bytes of an action's output: the payload as is for binary output, else JSON. */
function bytes(output: unknown): Buffer {
  return Buffer.isBuffer(output) ? output : Buffer.from(toJsonText(output));
}

export function compileS3Action(c: NonNullable<RuleAction['s3']>, objectsDir: string | null, lookups: SqlLookups, where: string): CompiledAction {
  if (objectsDir === null) throw rulesErrors.invalid(`${where}: the s3 action needs an object store (no data directory configured)`);
  const bucket = compileTemplate(c.bucketName, { lookups });
  const key = compileTemplate(c.key, { lookups });
  const root = resolve(objectsDir);
  return {
    kind: 's3',
    failedAction: 'S3Action',
    failedResource: c.bucketName,
    run: async ({ output, doc, ctx }) => {
      const b = bucket(doc, ctx);
      const k = key(doc, ctx);
      if (!BUCKET.test(b)) throw new Error(`bucket name ${b} is not valid`);
      if (k === '' || k.split('/').some((p) => p === '..' || p === '.')) throw new Error(`object key ${k} is not valid`);
      const file = resolve(join(root, b, k));
      // Never write outside the bucket's directory, whatever the template produced.
      if (!file.startsWith(join(root, b) + sep)) throw new Error(`object key ${k} is not valid`);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, bytes(output));
    },
  };
}

export function compileCloudwatchLogsAction(c: NonNullable<RuleAction['cloudwatchLogs']>, logger: Logger): CompiledAction {
  return {
    kind: 'cloudwatchLogs',
    failedAction: 'CloudwatchLogsAction',
    failedResource: c.logGroupName,
    run: async ({ output, ctx }) => {
      logger.info({ logGroupName: c.logGroupName, topic: ctx.topic, traceId: ctx.traceId, message: Buffer.isBuffer(output) ? output.toString('base64') : output }, 'rule log');
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

export function compileCloudwatchMetricAction(c: NonNullable<RuleAction['cloudwatchMetric']>, sink: CustomMetrics, lookups: SqlLookups): CompiledAction {
  const ns = compileTemplate(c.metricNamespace, { lookups });
  const name = compileTemplate(c.metricName, { lookups });
  const value = compileTemplate(c.metricValue, { lookups });
  const unit = compileTemplate(c.metricUnit, { lookups });
  const ts = c.metricTimestamp === undefined ? null : compileTemplate(c.metricTimestamp, { lookups });
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
