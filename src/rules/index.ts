/**
 * rules: the AWS IoT rules engine — topic rules (SQL + actions) stored in SQLite, run on the
 * broker's message stream, with topic rule destinations, local functions and local tables.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Messaging, SqliteDatabase } from '../core/index.js';
import type { AccessKeyLookup, AwsHandlers, IotOperations } from '../http/index.js';
import { createLogger, type Logger } from '../lib/index.js';
import { keyText } from './actions.js';
import { CustomMetrics, type CustomMetric } from './actions-local.js';
import { rulesConfigSchema, type RulesConfig } from './config.js';
import { Destinations } from './destinations.js';
import { ExternalTargets } from './external-targets.js';
import type { RulesMetrics } from './engine.js';
import { evaluationWorkerWanted } from './eval-offload.js';
import type { StoredRule } from './model.js';
import type { RuleTestInput, RuleTestResult } from './rule-test.js';
import { createRulesHandlers } from './http.js';
import { createLocalFunctions } from './lambda.js';
import { S3Targets } from './s3-targets.js';
import { RulesService } from './service.js';
import { ProtoDescriptors, resolveSecret, type SqlLookups } from './sql/index.js';
import { SqliteRulesStore } from './store-sqlite.js';
import { registerLocalRoutes } from './local-routes.js';
export { ruleView } from './local-routes.js';
import { parseRulePayload } from './rule-payload.js';

/** The service every adapter calls, and its error class. */
export { RulesService } from './service.js';
export { RulesError, RULES_ERROR_STATUS } from './errors.js';
export type { RulesErrorCode } from './errors.js';
/** Configuration slice: add `rules: rulesConfigSchema.default({})` to the config schema. */
export { rulesConfigSchema } from './config.js';
export type { RulesConfig } from './config.js';
export type { RulesMetrics, RuleTrace } from './engine.js';
export type { CustomMetric } from './actions-local.js';
export type { StoredRule, StoredDestination, TopicRulePayload, RuleAction, RulePayload, NatsAction, AmqpAction, PostgresAction } from './model.js';
export type { RulesStore } from './store.js';
export type { RuleTestInput, RuleTestMessage, RuleTestResult } from './rule-test.js';
export { SqliteRulesStore } from './store-sqlite.js';
/** AWS IoT SQL: compile once, evaluate per message. */
export { compileSql, compileTemplate, SqlParseException } from './sql/index.js';
export type { CompiledSql, SqlContext, SqlLookups } from './sql/index.js';

/** Longest an aws_lambda() call in SQL may run (AWS: 2 s), or rules.functionTimeoutMs when lower. */
const SQL_FUNCTION_TIMEOUT_MS = 2_000;

export interface RulesDeps {
  db: SqliteDatabase;
  /** The broker's in-process API: subscribe (rule FROM filters, `$aws/rules/#`) and publish (republish). */
  messaging: Pick<Messaging, 'subscribe' | 'publish'>;
  region: string;
  accountId: string;
  logger: Logger;
  /** Validated config slice; defaults when absent. */
  config?: Partial<RulesConfig>;
  /** Base URL of the HTTP API for destination confirmation messages' enableUrl (null when not listening). */
  apiBaseUrl?: () => string | null;
  /** get_thing_shadow / get_registry_data; without them those SQL functions are SqlParseException. */
  lookups?: Pick<SqlLookups, 'getThingShadow' | 'getRegistryData'>;
  /** The data directory: the s3 action writes objects under `<dataDir>/s3` (buckets without an S3 endpoint in `rules.s3`). */
  dataDir?: string;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface Rules {
  service: RulesService;
  /** CreateTopicRule ... DisableTopicRule and the topic rule destination operations. */
  iotHandlers: AwsHandlers<IotOperations>;
  /**
   * Registers `GET /thingport/tables/{table}/items`, `POST /rules/{ruleName}/test`,
   * `GET /rules/{ruleName}/traces` and `PUT|GET|DELETE /thingport/rules/{ruleName}` on an HTTP app.
   */
  routes(app: FastifyInstance, authenticate: AccessKeyLookup): void;
  /** Counters for /metrics, plus what cloudwatchMetric actions recorded (`custom`). */
  metrics(): RulesMetrics & { custom: CustomMetric[] };
  /**
   * Creates or replaces the rules of `rules.definitions` (throws on an invalid one, naming it), then
   * subscribes and runs the stored enabled rules; call once the broker exists.
   */
  start(): void;
  /** Stops taking messages, waits for the running ones, and closes the kafka/nats/amqp/postgres connections. */
  stop(): Promise<void>;
  /** Resolves when no message is waiting or running (tests, graceful shutdown). */
  idle(): Promise<void>;
}

/**
 * Builds the rules engine on the shared database. Wire `iotHandlers` into the IoT router, call
 * `routes(app, accessKeys)` per HTTP app, `start()` after the broker is created, `stop()` on shutdown.
 */
export function createRules(deps: RulesDeps): Rules {
  const config = rulesConfigSchema.parse(deps.config ?? {});
  const logger = deps.logger;
  const store = new SqliteRulesStore(deps.db);
  const destinations = new Destinations({
    store,
    region: deps.region,
    accountId: deps.accountId,
    logger,
    apiBaseUrl: deps.apiBaseUrl ?? (() => null),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  });
  const functions = createLocalFunctions(config.functions, { timeoutMs: config.functionTimeoutMs, memoryMb: config.functionMemoryMb, maxConcurrent: config.functionConcurrency });
  const objectsDir = deps.dataDir === undefined ? null : join(deps.dataDir, 's3');
  const lookups: SqlLookups = {
    ...deps.lookups,
    // [aws_lambda] "Lambda function calls from rules should be completed within 2000 milliseconds."
    functions: { has: (arn) => functions.resolve(arn) !== null, invoke: (arn, event) => functions.invoke(arn, event, { timeoutMs: SQL_FUNCTION_TIMEOUT_MS }) },
    getSecret: (id) => resolveSecret(config.secrets, id),
    ...(objectsDir === null ? {} : { protoDescriptors: new ProtoDescriptors(objectsDir) }),
    getDynamoDb: (table, keyName, keyValue, _sortName, sortValue) => {
      void keyName;
      return store.getItem(table, keyText(keyValue), sortValue === undefined ? '' : keyText(sortValue)) ?? undefined;
    },
  };
  const customMetrics = new CustomMetrics();
  const s3 = new S3Targets(config.s3, deps.dataDir === undefined ? null : join(deps.dataDir, 's3'), deps.region);
  const external = new ExternalTargets(
    { natsUrl: config.nats.url, amqpUrl: config.amqp.url, postgresUrl: config.postgres.url ?? null, timeoutMs: config.externalTimeoutMs },
    logger,
  );
  const service = new RulesService({
    store,
    messaging: deps.messaging,
    destinations,
    actionDeps: {
      functions,
      lookups,
      tables: config.tables,
      http: { attempts: config.httpAttempts, backoffMs: config.httpBackoffMs, timeoutMs: config.httpTimeoutMs },
      httpSigV4: config.httpSigV4 ?? null,
      s3,
      customMetrics,
      external,
      logger,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    },
    region: deps.region,
    accountId: deps.accountId,
    logger,
    maxQueue: config.maxQueue,
    worker: evaluationWorkerWanted(config.evaluationWorker),
    ...(deps.now ? { now: deps.now } : {}),
  });
  return {
    service,
    iotHandlers: createRulesHandlers(service, destinations),
    routes: (app, authenticate) =>
      registerLocalRoutes(app, {
        store,
        test: (name, input) => service.testRule(name, input),
        traces: (name) => service.traces(name),
        rules: {
          put: (name, payload) => service.putRule(name, parseRulePayload(payload)).rule,
          get: (name) => service.getRule(name),
          delete: (name) => service.deleteRule(name),
        },
        authenticate,
        region: deps.region,
        logger,
      }),
    metrics: () => ({ ...service.engine.metrics(), custom: customMetrics.list() }),
    start: () => service.start(config.definitions),
    stop: async () => {
      service.stop();
      await service.engine.idle();
      await Promise.all([service.engine.close(), external.close(), s3.close()]);
    },
    idle: () => service.engine.idle(),
  };
}

/** What `openRulesReader` gives: the stored rules, rule tests and local tables, read-only. */
export interface RulesReader {
  /** Throws RulesError `rules.unauthorized` for an unknown rule (as GetTopicRule does). */
  getRule(name: string): StoredRule;
  listRules(): StoredRule[];
  /** `POST /rules/{name}/test` without the server: a stored rule, or `input.sql` (then `name` is only a label). */
  testRule(name: string, input: RuleTestInput): RuleTestResult[];
  /** Local table items: the one under `hashKey` (+ `rangeKey`), or up to `limit` (1-1000, default 100). */
  tableItems(table: string, query?: { hashKey?: string; rangeKey?: string; limit?: number }): Record<string, unknown>[];
}

/**
 * The rules engine on a database without running it (the CLI, beside a live server: SQLite in WAL
 * mode lets both read). Nothing subscribes and no action ever runs; the lookups of `get_dynamodb`
 * read the same local tables the running engine writes.
 */
export function openRulesReader(deps: Pick<RulesDeps, 'db' | 'region' | 'accountId' | 'config' | 'dataDir'>): RulesReader {
  const rules = createRules({
    ...deps,
    // Never started: nothing subscribes, and tests never run actions.
    messaging: {
      subscribe: () => () => {},
      publish: () => Promise.reject(new Error('the rules reader does not publish')),
    },
    logger: createLogger('silent'),
  });
  const store = new SqliteRulesStore(deps.db);
  return {
    getRule: (name) => rules.service.getRule(name),
    listRules: () => rules.service.listRules(),
    testRule: (name, input) => rules.service.testRule(name, input),
    tableItems: (table, query = {}) => {
      if (query.hashKey !== undefined) {
        const item = store.getItem(table, query.hashKey, query.rangeKey ?? '');
        return item === null ? [] : [item];
      }
      return store.listItems(table, Math.min(1000, Math.max(1, query.limit ?? 100)));
    },
  };
}
