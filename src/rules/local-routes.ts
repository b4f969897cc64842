/**
 * Thingport's own HTTP routes of the rules engine (beyond AWS), SigV4-signed like the IoT API:
 *  - `GET /thingport/tables/{table}/items[?hashKey=&rangeKey=&limit=]` reads the local tables the
 *    dynamoDB / dynamoDBv2 actions write;
 *  - `POST /rules/{ruleName}/test` evaluates a rule (or ad-hoc `sql`) against given messages and
 *    reports the output and the actions that would fire, without firing them;
 *  - `GET /rules/{ruleName}/traces` lists the rule's recent per-message traces;
 *  - `PUT|GET|DELETE /thingport/rules/{ruleName}`: topic rules that may use Thingport's own actions
 *    (nats, amqp, postgres), which AWS's API cannot carry. PUT creates or replaces.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { toJsonText } from './output.js';
import { AwsServiceError, parseSigV4, verifySigV4, type AccessKeyLookup } from '../http/index.js';
import type { Logger } from '../lib/index.js';
import { RulesError } from './errors.js';
import type { StoredRule } from './model.js';
import type { RuleTestInput, RuleTestResult } from './rule-test.js';
import type { RulesStore } from './store.js';

function rawPairs(raw: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

const ERROR_TYPES: Record<string, string> = { 'rules.sql_parse': 'SqlParseException', 'rules.unauthorized': 'UnauthorizedException', 'rules.invalid_request': 'InvalidRequestException' };

export interface LocalRoutesOptions {
  store: RulesStore;
  test: (name: string, input: RuleTestInput) => RuleTestResult[];
  traces: (name: string) => Promise<unknown[]>;
  /** Thingport's rule API: create or replace from a raw JSON payload, read, delete. */
  rules: {
    put(name: string, payload: unknown): StoredRule;
    get(name: string): StoredRule;
    delete(name: string): void;
  };
  authenticate: AccessKeyLookup;
  region: string;
  logger: Logger;
}

export function registerLocalRoutes(root: FastifyInstance, opts: LocalRoutesOptions): void {
  // An encapsulated scope that keeps every body as raw bytes: they are what SigV4 signs.
  root.register(async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));
    routes(app, opts);
  });
}

function routes(app: FastifyInstance, opts: LocalRoutesOptions): void {
  const handle = (run: (request: FastifyRequest, body: Uint8Array) => unknown) => async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const sreq = { method: request.method, url: request.url, headers: rawPairs(request.raw.rawHeaders), body: new Uint8Array(body) };
      const claim = parseSigV4(sreq);
      const key = await opts.authenticate(claim.accessKeyId);
      if (key === null) throw new AwsServiceError('UnrecognizedClientException', 'The security token included in the request is invalid.', 403);
      verifySigV4(sreq, claim, { secretAccessKey: key.secretAccessKey, region: opts.region, services: ['iot'], now: Date.now() });
      return reply.code(200).type('application/json').send(toJsonText(await run(request, body)));
    } catch (err) {
      const e =
        err instanceof AwsServiceError
          ? err
          : err instanceof RulesError
            ? new AwsServiceError(ERROR_TYPES[err.code] ?? 'InvalidRequestException', err.message, err.status)
            : new AwsServiceError('InternalFailureException', 'Internal service failure', 500);
      if (e.status === 500) opts.logger.error({ err }, 'rules request failed');
      return reply.code(e.status ?? 400).header('x-amzn-ErrorType', e.name).type('application/json').send(JSON.stringify({ __type: e.name, message: e.message }));
    }
  };

  app.get(
    '/thingport/tables/:table/items',
    handle((request) => {
      const table = (request.params as { table: string }).table;
      const q = request.query as { hashKey?: string; rangeKey?: string; limit?: string };
      if (q.hashKey !== undefined) {
        const item = opts.store.getItem(table, q.hashKey, q.rangeKey ?? '');
        return { items: item === null ? [] : [item] };
      }
      const limit = Math.min(1000, Math.max(1, Number(q.limit ?? 100) || 100));
      return { items: opts.store.listItems(table, limit) };
    }),
  );

  const ruleName = (request: FastifyRequest): string => (request.params as { ruleName: string }).ruleName;
  app.put(
    '/thingport/rules/:ruleName',
    handle((request, body) => {
      let payload: unknown;
      try {
        payload = JSON.parse(Buffer.from(body).toString('utf8'));
      } catch {
        throw new AwsServiceError('InvalidRequestException', 'the body must be a TopicRulePayload in JSON', 400);
      }
      return ruleView(opts.rules.put(ruleName(request), payload));
    }),
  );
  app.get(
    '/thingport/rules/:ruleName',
    handle((request) => ruleView(opts.rules.get(ruleName(request)))),
  );
  app.delete(
    '/thingport/rules/:ruleName',
    handle((request) => {
      opts.rules.delete(ruleName(request));
      return {};
    }),
  );

  app.get(
    '/rules/:ruleName/traces',
    handle(async (request) => ({ traces: await opts.traces((request.params as { ruleName: string }).ruleName) })),
  );

  app.post(
    '/rules/:ruleName/test',
    handle((request, body) => {
      let input: RuleTestInput;
      try {
        input = JSON.parse(Buffer.from(body).toString('utf8')) as RuleTestInput;
      } catch {
        throw new AwsServiceError('InvalidRequestException', 'the body must be JSON: { sql?, actions?, messages: [{ topic, payload }] }', 400);
      }
      return { results: opts.test((request.params as { ruleName: string }).ruleName, input) };
    }),
  );
}

/**
 * A rule as GetTopicRule answers it, with Thingport's own actions in full. `createdAt` in epoch
 * seconds as AWS's API has it, or as ISO text for people (`thingport rules get`).
 */
export function ruleView(r: StoredRule, createdAt: 'epochSeconds' | 'iso' = 'epochSeconds'): { ruleArn: string; rule: Record<string, unknown> } {
  return {
    ruleArn: r.ruleArn,
    rule: {
      ruleName: r.ruleName,
      sql: r.sql,
      ...(r.description !== null ? { description: r.description } : {}),
      createdAt: createdAt === 'iso' ? new Date(r.createdAt).toISOString() : r.createdAt / 1000,
      actions: r.actions,
      ruleDisabled: r.ruleDisabled,
      awsIotSqlVersion: r.awsIotSqlVersion,
      ...(r.errorAction !== null ? { errorAction: r.errorAction } : {}),
    },
  };
}
