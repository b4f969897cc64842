/**
 * Rule actions, compiled once when a rule is created or replaced: substitution templates are
 * compiled, targets checked (function configured, destination known), and each action becomes a
 * `run(invocation)` that resolves or throws. An action Thingport does not support is an
 * InvalidRequestException naming it.
 */
import type { Messaging, MessageProperties, QoS } from '../core/index.js';
import type { Logger } from '../lib/index.js';
import { compileAmqpAction, compileKafkaAction, compileNatsAction, compilePostgresAction } from './actions-external.js';
import { compileHttpAction, type SigV4Credentials } from './actions-http.js';
import { compileCloudwatchLogsAction, compileCloudwatchMetricAction, type CustomMetrics } from './actions-local.js';
import { compileS3Action } from './actions-s3.js';
import { actionTemplate as template, type TemplateOptions } from './action-template.js';
import { DEFAULT_SQL_VERSION, type SqlContext, type SqlLookups } from './sql/index.js';
import type { Destinations } from './destinations.js';
import { outputBytes, toJsonText } from './output.js';
import type { ExternalTargets } from './external-targets.js';
import { rulesErrors, RulesError } from './errors.js';
import type { LocalFunctions } from './lambda.js';
import type { RuleAction } from './model.js';
import type { S3Targets } from './s3-targets.js';
import type { RulesStore } from './store.js';

/** One message going through a rule's actions. */
export interface Invocation {
  /** The SELECT output: an Object, a SELECT VALUE value, or the payload bytes. */
  output: unknown;
  /** The original payload, parsed (templates read it, not the SELECT aliases). */
  doc: unknown;
  ctx: SqlContext;
}

export interface CompiledAction {
  /** The Action member name (`republish`, `http`...). */
  kind: string;
  /** AWS's name in error-action payloads (`RepublishAction`...). */
  failedAction: string;
  /** What it writes to (topic, URL, table, function), for error payloads. */
  failedResource: string;
  run(inv: Invocation): Promise<void>;
}

export interface ActionDeps {
  messaging: Pick<Messaging, 'publish'>;
  store: RulesStore;
  destinations: Destinations;
  functions: LocalFunctions;
  lookups: SqlLookups;
  /** Key attributes of local tables for dynamoDBv2 (default hash key `id`). */
  tables: Readonly<Record<string, { hashKey: string; rangeKey?: string }>>;
  http: { attempts: number; backoffMs: number; timeoutMs: number };
  /** `rules.httpSigV4`: the credentials that sign http actions with `auth.sigv4`; null refuses them. */
  httpSigV4: SigV4Credentials | null;
  /** Where the s3 action puts each bucket's objects (`<dataDir>/s3`, or an S3-compatible endpoint). */
  s3: S3Targets;
  logger: Logger;
  /** Where cloudwatchMetric actions record. */
  customMetrics: CustomMetrics;
  /** Connections of the kafka, nats, amqp and postgres actions (opened on first use). */
  external: ExternalTargets;
  fetch?: typeof fetch;
}

/** Actions of AWS's model that Thingport does not run yet. */
const KNOWN_UNSUPPORTED = new Set([
  'sns', 'sqs', 'kinesis', 'firehose', 'cloudwatchAlarm', 'elasticsearch', 'openSearch',
  'salesforce', 'iotAnalytics', 'iotEvents', 'iotSiteWise', 'stepFunctions', 'timestream', 'location',
]);

export { outputBytes } from './output.js';

/** Compiles one Action; throws RulesError (InvalidRequest / SqlParse) for what cannot run. */
export function compileAction(action: RuleAction, deps: ActionDeps, where: string, sqlVersion: string = DEFAULT_SQL_VERSION): CompiledAction {
  const present = Object.entries(action).filter(([, v]) => v !== undefined && v !== null);
  if (present.length === 0)
    throw rulesErrors.invalid(
      `${where} sets no action type (Thingport's own nats, amqp and postgres actions are not part of AWS's API: create such rules with PUT /thingport/rules/{ruleName} or rules.definitions)`,
    );
  if (present.length !== 1) throw rulesErrors.invalid(`${where} must set exactly one action type, found ${present.length}`);
  const [kind, cfg] = present[0] as [string, Record<string, unknown>];
  // Templates follow the rule's SQL version, as its statement does.
  const L: TemplateOptions = { lookups: deps.lookups, sqlVersion };
  switch (kind) {
    case 'republish': {
      const c = action.republish!;
      // [republish rule action] a reserved topic is written with `$$` ("$$aws/things/...").
      const topicText = c.topic.startsWith('$$') ? c.topic.slice(1) : c.topic;
      const topic = template(topicText, `${where}.republish.topic`, L);
      const qos = (c.qos ?? 0) as QoS;
      if (qos !== 0 && qos !== 1) throw rulesErrors.invalid(`${where}.republish.qos must be 0 or 1`);
      const h = c.headers;
      const ct = h?.contentType === undefined ? null : template(h.contentType, 'contentType', L);
      const rt = h?.responseTopic === undefined ? null : template(h.responseTopic, 'responseTopic', L);
      const cd = h?.correlationData === undefined ? null : template(h.correlationData, 'correlationData', L);
      const me = h?.messageExpiry === undefined ? null : template(h.messageExpiry, 'messageExpiry', L);
      const ups = (h?.userProperties ?? []).map((u) => ({ key: template(u.key, 'userProperties.key', L), value: template(u.value, 'userProperties.value', L) }));
      const pfi = h?.payloadFormatIndicator === undefined ? null : template(h.payloadFormatIndicator, 'payloadFormatIndicator', L);
      return {
        kind,
        failedAction: 'RepublishAction',
        failedResource: c.topic,
        run: async ({ output, doc, ctx }) => {
          const t = topic(doc, ctx);
          if (t === '' || t.includes('+') || t.includes('#')) throw new Error(`cannot republish to topic '${t}'`);
          let properties: MessageProperties | undefined;
          if (h !== undefined) {
            properties = {};
            if (ct) properties.contentType = ct(doc, ctx);
            if (rt) properties.responseTopic = rt(doc, ctx);
            if (cd) properties.correlationData = Buffer.from(cd(doc, ctx), 'base64');
            if (pfi) properties.payloadFormatIndicator = pfi(doc, ctx) === 'UTF8_DATA';
            if (ups.length > 0) {
              const up: Record<string, string | string[]> = {};
              for (const u of ups) {
                const k = u.key(doc, ctx);
                const v = u.value(doc, ctx);
                const prev = up[k];
                up[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
              }
              properties.userProperties = up;
            }
          }
          const expiry = me ? Number(me(doc, ctx)) : NaN;
          await deps.messaging.publish({ topic: t, payload: outputBytes(output), qos, properties, ...(Number.isFinite(expiry) && expiry > 0 ? { messageExpiryInterval: expiry } : {}) });
        },
      };
    }
    case 'http':
      return compileHttpAction(action.http!, deps, where, L);
    case 'lambda': {
      const arn = action.lambda!.functionArn;
      if (deps.functions.resolve(arn) === null) throw rulesErrors.invalid(`${where}.lambda.functionArn ${arn} is not a configured local function (rules.functions)`);
      return {
        kind,
        failedAction: 'LambdaAction',
        failedResource: arn,
        run: async ({ output }) => {
          const event = Buffer.isBuffer(output) ? output.toString('base64') : output;
          await deps.functions.invoke(arn, event);
        },
      };
    }
    case 'dynamoDB': {
      const c = action.dynamoDB!;
      const table = template(c.tableName, 'tableName', L);
      const hk = template(c.hashKeyValue, 'hashKeyValue', L);
      const rk = c.rangeKeyValue === undefined ? null : template(c.rangeKeyValue, 'rangeKeyValue', L);
      const op = c.operation === undefined ? null : template(c.operation, 'operation', L);
      const payloadField = c.payloadField ?? 'payload';
      return {
        kind,
        failedAction: 'DynamoAction',
        failedResource: c.tableName,
        run: async ({ output, doc, ctx }) => {
          const o = op === null ? 'INSERT' : op(doc, ctx).toUpperCase();
          if (o !== 'INSERT' && o !== 'UPDATE' && o !== '') throw new Error(`operation ${o} is not supported by Thingport tables`);
          const h = hk(doc, ctx);
          const r = rk === null ? '' : rk(doc, ctx);
          const item: Record<string, unknown> = { [c.hashKeyField]: h };
          if (c.rangeKeyField !== undefined) item[c.rangeKeyField] = r;
          item[payloadField] = Buffer.isBuffer(output) ? output.toString('base64') : output;
          deps.store.putItem(table(doc, ctx), h, r, item);
        },
      };
    }
    case 'dynamoDBv2': {
      const table = template(action.dynamoDBv2!.putItem.tableName, 'putItem.tableName', L);
      return {
        kind,
        failedAction: 'DynamoActionV2',
        failedResource: action.dynamoDBv2!.putItem.tableName,
        run: async ({ output, doc, ctx }) => {
          if (output === null || typeof output !== 'object' || Array.isArray(output) || Buffer.isBuffer(output))
            throw new Error('dynamoDBv2 needs the SQL to produce a JSON object');
          const name = table(doc, ctx);
          const keys = deps.tables[name] ?? { hashKey: 'id' };
          const item = output as Record<string, unknown>;
          const h = item[keys.hashKey];
          if (h === undefined) throw new Error(`the item has no hash key attribute ${keys.hashKey} of table ${name}`);
          const r = keys.rangeKey === undefined ? '' : item[keys.rangeKey];
          if (r === undefined) throw new Error(`the item has no range key attribute ${keys.rangeKey} of table ${name}`);
          deps.store.putItem(name, keyText(h), keyText(r), item);
        },
      };
    }
    case 's3':
      return compileS3Action(action.s3!, deps.s3, L, where);
    case 'cloudwatchMetric':
      return compileCloudwatchMetricAction(action.cloudwatchMetric!, deps.customMetrics, L);
    case 'cloudwatchLogs':
      return compileCloudwatchLogsAction(action.cloudwatchLogs!, deps.logger);
    case 'kafka':
      return compileKafkaAction(action.kafka!, deps, where, L);
    case 'nats':
      return compileNatsAction(cfg, deps, where, L);
    case 'amqp':
      return compileAmqpAction(cfg, deps, where, L);
    case 'postgres':
      return compilePostgresAction(cfg, deps, where, L);
    default:
      if (KNOWN_UNSUPPORTED.has(kind)) throw new RulesError('rules.invalid_request', `${where}: the ${kind} action is not supported by Thingport yet`);
      void cfg;
      throw rulesErrors.invalid(`${where}: unknown action ${kind}`);
  }
}

/** Local table keys are stored as text: strings as is, other values as JSON. */
export function keyText(v: unknown): string {
  // toJsonText: a Decimal key (7.0) is "7.0", as a substitution template renders it.
  return typeof v === 'string' ? v : toJsonText(v);
}
