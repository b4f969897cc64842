// The rules engine's AWS IoT operations on a real HTTP listener, driven by @aws-sdk/client-iot.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import {
  ConfirmTopicRuleDestinationCommand,
  CreateTopicRuleCommand,
  CreateTopicRuleDestinationCommand,
  DeleteTopicRuleCommand,
  DisableTopicRuleCommand,
  EnableTopicRuleCommand,
  GetTopicRuleCommand,
  GetTopicRuleDestinationCommand,
  InvalidRequestException,
  IoTClient,
  ListTopicRulesCommand,
  ReplaceTopicRuleCommand,
  ResourceAlreadyExistsException,
  SqlParseException,
  UnauthorizedException,
} from '@aws-sdk/client-iot';
import { SignatureV4 } from '@smithy/signature-v4';
import type { FastifyInstance } from 'fastify';
import { openDatabase, type SqliteDatabase } from '../core/index.js';
import { createAwsRestRouter, createHttpApp, iotModel, type IotOperations } from '../http/index.js';
import { createLogger } from '../lib/index.js';
import { createRules, type Rules } from './index.js';

const REGION = 'eu-central-1';
const ACCOUNT = '123456789012';
const KEY = { accessKeyId: 'AKIATHINGPORTRULES01', secretAccessKey: 'thingport-rules-test-secret-0123456789' };
const ROLE = 'arn:aws:iam::123456789012:role/r';

let app: FastifyInstance;
let db: SqliteDatabase;
let iot: IoTClient;
let rules: Rules;
let hook: Server;
let hookUrl = '';
const confirmations: { confirmationToken: string; arn: string; enableUrl?: string }[] = [];

before(async () => {
  const logger = createLogger('silent');
  db = openDatabase(':memory:');
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.url === '/confirm') confirmations.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}`;
  app = createHttpApp({ logger, health: () => ({}), metrics: { render: async () => '', contentType: 'text/plain' } });
  rules = createRules({ db, messaging: { subscribe: () => () => {}, publish: async () => {} }, region: REGION, accountId: ACCOUNT, logger, apiBaseUrl: () => 'http://thingport.local' });
  createAwsRestRouter<IotOperations>(app, {
    service: iotModel,
    region: REGION,
    authenticate: (id) => (id === KEY.accessKeyId ? { secretAccessKey: KEY.secretAccessKey, principal: 'user/admin' } : null),
    handlers: rules.iotHandlers,
    logger,
  });
  rules.routes(app, (id) => (id === KEY.accessKeyId ? { secretAccessKey: KEY.secretAccessKey, principal: 'user/admin' } : null));
  rules.start();
  await app.listen({ host: '127.0.0.1', port: 0 });
  iot = new IoTClient({ endpoint: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, region: REGION, credentials: KEY, maxAttempts: 1 });
});

after(async () => {
  iot.destroy();
  rules.stop();
  await app.close();
  hook.close();
  db.close();
});

async function rejects<T>(p: Promise<unknown>, cls: abstract new (...args: never[]) => T): Promise<T & Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${(err as Error).name}: ${(err as Error).message}`);
    return err as T & Error;
  }
  throw new Error(`expected ${cls.name}`);
}

const republish = (topic: string) => ({ republish: { topic, roleArn: ROLE } });

test('CreateTopicRule / GetTopicRule round trip (awsIotSqlVersion default 2015-10-08, tags header)', async () => {
  await iot.send(new CreateTopicRuleCommand({ ruleName: 'temp_alarm', tags: 'env=test', topicRulePayload: { sql: "SELECT temp FROM 'sensors/+/data' WHERE temp > 30", description: 'd', actions: [republish('alarms/${topic(2)}')] } }));
  const got = await iot.send(new GetTopicRuleCommand({ ruleName: 'temp_alarm' }));
  assert.equal(got.ruleArn, `arn:aws:iot:${REGION}:${ACCOUNT}:rule/temp_alarm`);
  assert.equal(got.rule?.sql, "SELECT temp FROM 'sensors/+/data' WHERE temp > 30");
  assert.equal(got.rule?.awsIotSqlVersion, '2015-10-08');
  assert.equal(got.rule?.ruleDisabled, false);
  assert.deepEqual(got.rule?.actions, [republish('alarms/${topic(2)}')]);
  assert.ok(got.rule?.createdAt instanceof Date);
});

test('CreateTopicRule: existing name is ResourceAlreadyExistsException', async () => {
  await rejects(iot.send(new CreateTopicRuleCommand({ ruleName: 'temp_alarm', topicRulePayload: { sql: "SELECT * FROM 'a'", actions: [] } })), ResourceAlreadyExistsException);
});

test('CreateTopicRule: bad SQL is SqlParseException with line and column', async () => {
  const e = await rejects(iot.send(new CreateTopicRuleCommand({ ruleName: 'bad_sql', topicRulePayload: { sql: "SELECT nosuch(a) FROM 'a'", actions: [] } })), SqlParseException);
  assert.match(e.message, /unknown function nosuch.*line 1, column 8/);
});

test('CreateTopicRule: an unsupported action is InvalidRequestException naming it', async () => {
  const e = await rejects(
    iot.send(new CreateTopicRuleCommand({ ruleName: 'to_sqs', topicRulePayload: { sql: "SELECT * FROM 'a'", actions: [{ sqs: { queueUrl: 'q', roleArn: ROLE } }] } })),
    InvalidRequestException,
  );
  assert.match(e.message, /sqs/);
});

test('CreateTopicRule: lambda with an unconfigured function is InvalidRequestException', async () => {
  await rejects(iot.send(new CreateTopicRuleCommand({ ruleName: 'to_fn', topicRulePayload: { sql: "SELECT * FROM 'a'", actions: [{ lambda: { functionArn: 'arn:aws:lambda:eu-central-1:123456789012:function:nope' } }] } })), InvalidRequestException);
});

test('CreateTopicRule: http auth.sigv4 without rules.httpSigV4 is InvalidRequestException saying what to set', async () => {
  const sigv4 = { signingRegion: REGION, serviceName: 'execute-api', roleArn: ROLE };
  const e = await rejects(iot.send(new CreateTopicRuleCommand({ ruleName: 'signed', topicRulePayload: { sql: "SELECT * FROM 'a'", actions: [{ http: { url: `${hookUrl}/signed`, auth: { sigv4 } } }] } })), InvalidRequestException);
  assert.match(e.message, /actions\[0\]\.http\.auth\.sigv4 needs signing credentials: set rules\.httpSigV4\.accessKeyId and rules\.httpSigV4\.secretAccessKey/);
});

test('CreateTopicRule: http batchConfig round-trips; a value out of AWS range is InvalidRequestException', async () => {
  const http = { url: `${hookUrl}/batched`, enableBatching: true, batchConfig: { maxBatchOpenMs: 50, maxBatchSize: 5, maxBatchSizeBytes: 2048, batchAcrossTopics: true } };
  await iot.send(new CreateTopicRuleCommand({ ruleName: 'batched', topicRulePayload: { sql: "SELECT * FROM 'a'", actions: [{ http }] } }));
  const got = await iot.send(new GetTopicRuleCommand({ ruleName: 'batched' }));
  assert.deepEqual(got.rule?.actions, [{ http }]);
  await iot.send(new DeleteTopicRuleCommand({ ruleName: 'batched' }));
  const bad = { ...http, batchConfig: { maxBatchSize: 11 } };
  const e = await rejects(iot.send(new CreateTopicRuleCommand({ ruleName: 'batched', topicRulePayload: { sql: "SELECT * FROM 'a'", actions: [{ http: bad }] } })), InvalidRequestException);
  assert.match(e.message, /maxBatchSize/);
});

test('ListTopicRules filters by topic and ruleDisabled; Disable/Enable', async () => {
  await iot.send(new CreateTopicRuleCommand({ ruleName: 'other', topicRulePayload: { sql: "SELECT * FROM 'other/#'", actions: [], ruleDisabled: true } }));
  const all = await iot.send(new ListTopicRulesCommand({}));
  assert.deepEqual(all.rules?.map((r) => r.ruleName), ['other', 'temp_alarm']);
  assert.equal(all.rules?.[1]?.topicPattern, 'sensors/+/data');
  const byTopic = await iot.send(new ListTopicRulesCommand({ topic: 'other/#' }));
  assert.deepEqual(byTopic.rules?.map((r) => r.ruleName), ['other']);
  const disabled = await iot.send(new ListTopicRulesCommand({ ruleDisabled: true }));
  assert.deepEqual(disabled.rules?.map((r) => r.ruleName), ['other']);
  await iot.send(new EnableTopicRuleCommand({ ruleName: 'other' }));
  await iot.send(new DisableTopicRuleCommand({ ruleName: 'temp_alarm' }));
  const d2 = await iot.send(new ListTopicRulesCommand({ ruleDisabled: true }));
  assert.deepEqual(d2.rules?.map((r) => r.ruleName), ['temp_alarm']);
});

test('ReplaceTopicRule changes SQL and keeps createdAt; DeleteTopicRule; unknown rule is UnauthorizedException', async () => {
  const before = await iot.send(new GetTopicRuleCommand({ ruleName: 'other' }));
  await iot.send(new ReplaceTopicRuleCommand({ ruleName: 'other', topicRulePayload: { sql: "SELECT a FROM 'x/y'", actions: [], awsIotSqlVersion: '2016-03-23' } }));
  const after = await iot.send(new GetTopicRuleCommand({ ruleName: 'other' }));
  assert.equal(after.rule?.sql, "SELECT a FROM 'x/y'");
  assert.equal(after.rule?.awsIotSqlVersion, '2016-03-23');
  assert.equal(after.rule?.createdAt?.getTime(), before.rule?.createdAt?.getTime());
  await rejects(iot.send(new ReplaceTopicRuleCommand({ ruleName: 'other', topicRulePayload: { sql: 'SELECT', actions: [] } })), SqlParseException);
  await iot.send(new DeleteTopicRuleCommand({ ruleName: 'other' }));
  await rejects(iot.send(new GetTopicRuleCommand({ ruleName: 'other' })), UnauthorizedException);
  await rejects(iot.send(new DeleteTopicRuleCommand({ ruleName: 'other' })), UnauthorizedException);
});

test('topic rule destinations: the confirmation token is POSTed to the URL; ConfirmTopicRuleDestination enables it', async () => {
  const created = await iot.send(new CreateTopicRuleDestinationCommand({ destinationConfiguration: { httpUrlConfiguration: { confirmationUrl: `${hookUrl}/confirm` } } }));
  const arn = created.topicRuleDestination?.arn ?? '';
  assert.equal(created.topicRuleDestination?.status, 'IN_PROGRESS');
  for (let i = 0; i < 50 && confirmations.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  const msg = confirmations[0]!;
  assert.equal(msg.arn, arn);
  assert.match(msg.enableUrl ?? '', /^http:\/\/thingport\.local\/confirmdestination\/[0-9a-f]{64}$/);
  await iot.send(new ConfirmTopicRuleDestinationCommand({ confirmationToken: msg.confirmationToken }));
  const got = await iot.send(new GetTopicRuleDestinationCommand({ arn }));
  assert.equal(got.topicRuleDestination?.status, 'ENABLED');
  assert.equal(got.topicRuleDestination?.httpUrlProperties?.confirmationUrl, `${hookUrl}/confirm`);
  await rejects(iot.send(new ConfirmTopicRuleDestinationCommand({ confirmationToken: 'nope' })), InvalidRequestException);
});

/** SHA-256 / HMAC in the shape @smithy/signature-v4 wants. */
class Sha256 {
  private readonly h;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const b = (d: string | ArrayBuffer | ArrayBufferView): Buffer => (typeof d === 'string' ? Buffer.from(d) : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d));
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', b(secret));
    this.b = b;
  }
  private readonly b;
  update(d: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(this.b(d));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

async function signedPost(path: string, body: unknown, method = 'POST'): Promise<{ status: number; body: Record<string, unknown> }> {
  const base = new URL(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`);
  const text = method === 'GET' ? undefined : JSON.stringify(body);
  const signer = new SignatureV4({ service: 'iot', region: REGION, credentials: KEY, sha256: Sha256 });
  const signed = await signer.sign({ method, protocol: 'http:', hostname: base.hostname, port: Number(base.port), path, query: {}, headers: { host: base.host, 'content-type': 'application/json' }, body: text });
  const headers = { ...(signed.headers as Record<string, string>) };
  delete headers.host;
  const res = await fetch(`${base.origin}${path}`, { method, headers, body: text });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('POST /rules/{ruleName}/test evaluates a rule or ad-hoc SQL without firing actions (beyond AWS)', async () => {
  await iot.send(new CreateTopicRuleCommand({ ruleName: 'testable', topicRulePayload: { sql: "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30", actions: [republish('alarms/x')] } }));
  const r = await signedPost('/rules/testable/test', { messages: [{ topic: 'sensors/d1/data', payload: { temp: 31 } }, { topic: 'sensors/d1/data', payload: { temp: 1 } }, { topic: 'other', payload: {} }] });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.results, [
    { topic: 'sensors/d1/data', matched: true, output: { temp: 31, device: 'd1' }, actions: [{ action: 'republish', resource: 'alarms/x' }] },
    { topic: 'sensors/d1/data', matched: false, actions: [] },
    { topic: 'other', matched: false, actions: [] },
  ]);
  const adhoc = await signedPost('/rules/anything/test', { sql: "SELECT upper(s) AS u FROM '#'", messages: [{ topic: 'a', payload: { s: 'x' } }] });
  assert.deepEqual(adhoc.body.results, [{ topic: 'a', matched: true, output: { u: 'X' }, actions: [] }]);
  const bad = await signedPost('/rules/anything/test', { sql: 'SELECT', messages: [] });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.__type, 'SqlParseException');
});

test('GET /rules/{ruleName}/traces answers the recent traces; unknown rule is UnauthorizedException', async () => {
  const r = await signedPost('/rules/testable/traces', undefined, 'GET');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.traces, []);
  const missing = await signedPost('/rules/nope/traces', undefined, 'GET');
  assert.equal(missing.status, 401);
  assert.equal(missing.body.__type, 'UnauthorizedException');
});
