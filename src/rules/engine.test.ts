// Rules running on a real broker: republish (templates, MQTT 5 headers), errorAction with AWS's
// payload, Basic Ingest, dynamoDBv2 + get_dynamodb, lambda in a worker, http with retries.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { Broker, listenMqtt, type Listener } from '../broker/index.js';
import { mqttConfigSchema, openDatabase, type SqliteDatabase } from '../core/index.js';
import { createLogger } from '../lib/index.js';
import { createRules, type Rules, type TopicRulePayload } from './index.js';

const ROLE = 'arn:aws:iam::123456789012:role/r';
let broker: Broker;
let tcp: Listener;
let db: SqliteDatabase;
let rules: Rules;
let client: MqttClient;
let dir: string;
let hook: Server;
let hookUrl = '';
const hookHits: { status: number; body: string }[] = [];
let hookStatus: number[] = [];
const received: { topic: string; payload: Buffer; properties: mqtt.IClientPublishOptions['properties'] }[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rules-'));
  writeFileSync(join(dir, 'fn.mjs'), 'export default async (event) => { if (event.fail) throw new Error("function refused"); return { ok: true }; };\n');
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const status = hookStatus.shift() ?? 200;
      hookHits.push({ status, body });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}`;
  const logger = createLogger('silent');
  db = openDatabase(':memory:');
  broker = new Broker({ config: mqttConfigSchema.parse({}), logger, hooks: {} });
  rules = createRules({
    db,
    messaging: broker,
    region: 'eu-central-1',
    accountId: '123456789012',
    logger,
    dataDir: dir,
    config: { functions: { fn: { module: join(dir, 'fn.mjs') } }, httpBackoffMs: 10, tables: { devices: { hashKey: 'id' } } },
  });
  rules.start();
  tcp = await listenMqtt(broker, '127.0.0.1', 0);
  client = mqtt.connect(`mqtt://127.0.0.1:${tcp.port}`, { clientId: 'pub-1', protocolVersion: 5, reconnectPeriod: 0 });
  await new Promise<void>((r, j) => {
    client.once('connect', () => r());
    client.once('error', j);
  });
  client.on('message', (topic, payload, packet) => received.push({ topic, payload, properties: packet.properties }));
  await client.subscribeAsync(['alarms/#', 'errors/#', 'db/out', 'raw/#'], { qos: 1 });
});

after(async () => {
  await client.endAsync();
  rules.stop();
  await broker.close();
  await tcp.close();
  hook.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const create = (name: string, p: TopicRulePayload): void => void rules.service.createRule(name, p);

async function waitFor(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('republish: WHERE filters, templates in the topic, MQTT 5 headers, context functions', async () => {
  create('temp_alarm', {
    sql: "SELECT temp, topic(2) AS device, clientid() AS cid FROM 'sensors/+/data' WHERE temp > 30",
    actions: [{ republish: { topic: 'alarms/${topic(2)}', roleArn: ROLE, qos: 1, headers: { contentType: 'application/json', userProperties: [{ key: 'src', value: '${topic(1)}' }] } } }],
  });
  await client.publishAsync('sensors/d1/data', JSON.stringify({ temp: 3 }));
  await client.publishAsync('sensors/d1/data', JSON.stringify({ temp: 31 }));
  await waitFor(() => received.some((m) => m.topic === 'alarms/d1'), 'alarms/d1');
  await rules.idle();
  const got = received.filter((m) => m.topic === 'alarms/d1');
  assert.equal(got.length, 1);
  assert.deepEqual(JSON.parse(got[0]!.payload.toString()), { temp: 31, device: 'd1', cid: 'pub-1' });
  assert.equal(got[0]!.properties?.contentType, 'application/json');
  assert.deepEqual({ ...got[0]!.properties?.userProperties }, { src: 'sensors' });
  const traces = await rules.service.traces('temp_alarm');
  assert.deepEqual(traces.map((t) => [t.matched, t.output ?? null, t.actions]), [
    [false, null, []],
    [true, { temp: 31, device: 'd1', cid: 'pub-1' }, [{ action: 'republish', ok: true }]],
  ]);
  assert.match(traces[1]!.traceId, /^[0-9a-f-]{36}$/);
  const m = rules.metrics().rules.find((r) => r.ruleName === 'temp_alarm');
  assert.deepEqual(m, { ruleName: 'temp_alarm', evaluated: 2, matched: 1, sqlErrors: 0 });
});

test('templates in actions follow the rule\'s awsIotSqlVersion (whole Decimals: 7.0 under 2015-10-08, 7 under 2016-03-23)', async () => {
  create('tpl_v1', { sql: "SELECT n FROM 'tplver/t'", awsIotSqlVersion: '2015-10-08', actions: [{ republish: { topic: 'alarms/v1/${n * 1.0}', roleArn: ROLE } }] });
  create('tpl_v2', { sql: "SELECT n FROM 'tplver/t'", awsIotSqlVersion: '2016-03-23', actions: [{ republish: { topic: 'alarms/v2/${n * 1.0}', roleArn: ROLE } }] });
  await client.publishAsync('tplver/t', JSON.stringify({ n: 7 }));
  await waitFor(() => received.some((m) => m.topic.startsWith('alarms/v1/')) && received.some((m) => m.topic.startsWith('alarms/v2/')), 'both republishes');
  assert.deepEqual(received.filter((m) => m.topic.startsWith('alarms/v')).map((m) => m.topic).sort(), ['alarms/v1/7.0', 'alarms/v2/7']);
  rules.service.deleteRule('tpl_v1');
  rules.service.deleteRule('tpl_v2');
});

test('Basic Ingest: $aws/rules/{ruleName}/topic invokes that rule with the topic after the prefix', async () => {
  await client.publishAsync('$aws/rules/temp_alarm/sensors/d2/data', JSON.stringify({ temp: 40 }));
  await waitFor(() => received.some((m) => m.topic === 'alarms/d2'), 'alarms/d2');
  const got = received.find((m) => m.topic === 'alarms/d2')!;
  assert.equal(JSON.parse(got.payload.toString()).device, 'd2');
});

test('binary payloads: SELECT * republishes the bytes; encode(*, base64)', async () => {
  create('raw_copy', { sql: "SELECT * FROM 'bin/in'", actions: [{ republish: { topic: 'raw/copy', roleArn: ROLE } }] });
  create('raw_b64', { sql: "SELECT encode(*, 'base64') AS data FROM 'bin/in'", actions: [{ republish: { topic: 'raw/b64', roleArn: ROLE } }] });
  await client.publishAsync('bin/in', Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  await waitFor(() => received.some((m) => m.topic === 'raw/copy') && received.some((m) => m.topic === 'raw/b64'), 'raw copies');
  assert.deepEqual(received.find((m) => m.topic === 'raw/copy')!.payload, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  assert.deepEqual(JSON.parse(received.find((m) => m.topic === 'raw/b64')!.payload.toString()), { data: '3q2+7w==' });
});

test('errorAction: a failed action sends AWS error payload (ruleName, topic, clientId, base64OriginalPayload, failures[])', async () => {
  create('to_fn', {
    sql: "SELECT * FROM 'fn/in'",
    actions: [{ lambda: { functionArn: 'arn:aws:lambda:eu-central-1:123456789012:function:fn' } }],
    errorAction: { republish: { topic: 'errors/${topic()}', roleArn: ROLE } },
  });
  await client.publishAsync('fn/in', JSON.stringify({ fail: false }));
  await client.publishAsync('fn/in', JSON.stringify({ fail: true }));
  await waitFor(() => received.some((m) => m.topic === 'errors/fn/in'), 'error action message');
  await rules.idle();
  const errs = received.filter((m) => m.topic === 'errors/fn/in');
  assert.equal(errs.length, 1);
  const e = JSON.parse(errs[0]!.payload.toString());
  assert.equal(e.ruleName, 'to_fn');
  assert.equal(e.topic, 'fn/in');
  assert.equal(e.clientId, 'pub-1');
  assert.equal(Buffer.from(e.base64OriginalPayload, 'base64').toString(), '{"fail":true}');
  assert.equal(e.failures.length, 1);
  assert.equal(e.failures[0].failedAction, 'LambdaAction');
  assert.match(e.failures[0].errorMessage, /function refused/);
  assert.deepEqual(rules.metrics().actions.find((a) => a.ruleName === 'to_fn'), { ruleName: 'to_fn', action: 'lambda', succeeded: 1, failed: 1 });
});

test('dynamoDBv2 writes a local table that get_dynamodb reads', async () => {
  create('store_dev', { sql: "SELECT id, v FROM 'db/put'", actions: [{ dynamoDBv2: { roleArn: ROLE, putItem: { tableName: 'devices' } } }] });
  create('read_dev', { sql: `SELECT get_dynamodb('devices', 'id', id, '${ROLE}').v AS v FROM 'db/get'`, actions: [{ republish: { topic: 'db/out', roleArn: ROLE } }] });
  await client.publishAsync('db/put', JSON.stringify({ id: 'dev-1', v: 42 }));
  await waitFor(() => rules.metrics().actions.some((a) => a.ruleName === 'store_dev' && a.succeeded === 1), 'the put');
  await client.publishAsync('db/get', JSON.stringify({ id: 'dev-1' }));
  await waitFor(() => received.some((m) => m.topic === 'db/out'), 'db/out');
  assert.deepEqual(JSON.parse(received.find((m) => m.topic === 'db/out')!.payload.toString()), { v: 42 });
});

test('http: unconfirmed destination fails; once confirmed, POSTs with retries on 5xx and templated headers', async () => {
  create('to_http', {
    sql: "SELECT temp FROM 'http/in'",
    actions: [{ http: { url: `${hookUrl}/ingest`, headers: [{ key: 'x-device', value: '${topic(2)}' }] } }],
    errorAction: { republish: { topic: 'errors/http', roleArn: ROLE } },
  });
  // The rule created the destination and POSTed the confirmation to the URL.
  await waitFor(() => hookHits.some((h) => h.body.includes('confirmationToken')), 'confirmation');
  await client.publishAsync('http/in', JSON.stringify({ temp: 1 }));
  await waitFor(() => received.some((m) => m.topic === 'errors/http'), 'error for unconfirmed destination');
  const token = JSON.parse(hookHits.find((h) => h.body.includes('confirmationToken'))!.body).confirmationToken as string;
  (rules.iotHandlers.ConfirmTopicRuleDestination as (i: { confirmationToken: string }) => unknown)({ confirmationToken: token });
  await new Promise((r) => setTimeout(r, 20));
  hookHits.length = 0;
  hookStatus = [503, 200];
  await client.publishAsync('http/in', JSON.stringify({ temp: 2 }));
  await waitFor(() => hookHits.length === 2, 'two attempts');
  assert.deepEqual(hookHits.map((h) => h.status), [503, 200]);
  assert.deepEqual(JSON.parse(hookHits[1]!.body), { temp: 2 });
});

test('s3: objects are written under <dataDir>/s3/<bucket>/<key> with templates in the key', async () => {
  create('to_s3', { sql: "SELECT * FROM 's3/+'", actions: [{ s3: { roleArn: ROLE, bucketName: 'my-bucket', key: '${topic(2)}/obj.json' } }] });
  await client.publishAsync('s3/dev7', JSON.stringify({ a: 1 }));
  await waitFor(() => rules.metrics().actions.some((a) => a.ruleName === 'to_s3' && a.succeeded === 1), 'the s3 write');
  assert.deepEqual(readdirSync(join(dir, 's3', 'my-bucket')), ['dev7']);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 's3', 'my-bucket', 'dev7', 'obj.json'), 'utf8')), { a: 1 });
});

test('cloudwatchMetric records a gauge; cloudwatchLogs logs', async () => {
  create('to_metric', {
    sql: "SELECT * FROM 'metric/+'",
    actions: [
      { cloudwatchMetric: { roleArn: ROLE, metricNamespace: 'iot', metricName: '${topic(2)}_temp', metricValue: '${temp}', metricUnit: 'None' } },
      { cloudwatchLogs: { roleArn: ROLE, logGroupName: 'rules' } },
    ],
  });
  await client.publishAsync('metric/d9', JSON.stringify({ temp: 21.5 }));
  await client.publishAsync('metric/d9', JSON.stringify({ temp: 22.5 }));
  await waitFor(() => rules.metrics().custom.some((m) => m.count === 2), 'two samples');
  const m = rules.metrics().custom.find((x) => x.name === 'd9_temp')!;
  assert.deepEqual([m.namespace, m.unit, m.last, m.count, m.sum], ['iot', 'None', 22.5, 2, 44]);
  await rules.idle();
  assert.deepEqual(rules.metrics().actions.find((a) => a.ruleName === 'to_metric' && a.action === 'cloudwatchLogs'), { ruleName: 'to_metric', action: 'cloudwatchLogs', succeeded: 2, failed: 0 });
});
