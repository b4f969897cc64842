// The on-premises actions through the real server: rules from `rules.definitions` and from
// Thingport's own `PUT /thingport/rules/{ruleName}`, MQTT publishes from mqtt.js reaching the real
// NATS, RabbitMQ and PostgreSQL of this machine (THINGPORT_TEST_*_URL; each test skips without its
// service), and what the AWS API makes of rules it cannot express.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTopicRuleCommand, GetTopicRuleCommand, ReplaceTopicRuleCommand, type IoTClient } from '@aws-sdk/client-iot';
import { baseArgs, runThingport, startThingport, type Thingport } from '../helpers/thingport.js';
import { connectClient, type TestClient } from '../helpers/mqtt.js';
import { expectAwsError, iotClient, readAdminKey } from '../helpers/iot.js';
import { signRequest } from '../helpers/sigv4.js';
import { AMQP_URL, KAFKA_BROKERS, NATS_URL, POSTGRES_URL, amqpQueue, closedPort, kafkaConsume, natsSubscribe, needs, pgClient, uniqueName } from '../../src/rules/external-testkit.js';

const ROLE = 'arn:aws:iam::000000000000:role/r';

describe('rules: on-premises actions on the running server', () => {
  let tp: Thingport;
  let iot: IoTClient;
  let dir: string;
  let sub: TestClient;
  const subjectBase = uniqueName('tp_e2e');
  const table = uniqueName('tp_e2e_rows');

  /** A SigV4-signed request to Thingport's own API; answers status and parsed JSON body. */
  async function own(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown>; type: string | null }> {
    const { url, init } = await signRequest(tp.httpUrl, readAdminKey(tp.dataDir), tp.endpoints.region, { method, path, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
    const res = await fetch(url, init);
    return { status: res.status, json: (await res.json()) as Record<string, unknown>, type: res.headers.get('x-amzn-errortype') };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tp-ext-'));
    if (POSTGRES_URL) {
      const pg = await pgClient(POSTGRES_URL);
      await pg.query(`CREATE TABLE ${table} (device text, temp int)`);
      await pg.end();
    }
    const definitions: Record<string, unknown> = {
      cfg_nats: { sql: "SELECT temp FROM 'cfg/+/t'", actions: [{ nats: { subject: `${subjectBase}.\${topic(2)}` } }] },
    };
    if (POSTGRES_URL) definitions.cfg_pg = { sql: "SELECT temp FROM 'cfgpg/+/t'", actions: [{ postgres: { table, columns: { device: '${topic(2)}', temp: 'temp' } } }] };
    const rules = { ...(NATS_URL ? { nats: { url: NATS_URL } } : {}), ...(AMQP_URL ? { amqp: { url: AMQP_URL } } : {}), ...(POSTGRES_URL ? { postgres: { url: POSTGRES_URL } } : {}), externalTimeoutMs: 3000, definitions };
    // JSON is YAML.
    await writeFile(join(dir, 'thingport.yaml'), JSON.stringify({ rules }, null, 2));
    tp = await startThingport({ args: ['--config', join(dir, 'thingport.yaml')] });
    iot = iotClient(tp);
    sub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await sub.subscribe('errors/#');
  });

  after(async () => {
    await sub?.end();
    iot?.destroy();
    await tp?.stop();
    if (POSTGRES_URL) {
      const pg = await pgClient(POSTGRES_URL);
      await pg.query(`DROP TABLE IF EXISTS ${table}`);
      await pg.end();
    }
    await rm(dir, { recursive: true, force: true });
  });

  test('[config] a rules.definitions rule runs from the start: an MQTT publish reaches the NATS subject', { skip: needs('NATS_URL') }, async () => {
    const nats = await natsSubscribe(NATS_URL!, `${subjectBase}.>`);
    try {
      const pub = await connectClient(tp.mqttPort);
      await pub.publish('cfg/d1/t', JSON.stringify({ temp: 30, x: 1 }), { qos: 1 });
      await pub.end();
      const m = await nats.inbox.next();
      assert.equal(m.subject, `${subjectBase}.d1`);
      assert.deepEqual(JSON.parse(m.data.toString()), { temp: 30 });
    } finally {
      await nats.close();
    }
  });

  test('[config] a rules.definitions postgres rule inserts a row per message', { skip: needs('POSTGRES_URL') }, async () => {
    const pub = await connectClient(tp.mqttPort);
    await pub.publish('cfgpg/d7/t', JSON.stringify({ temp: 17 }), { qos: 1 });
    await pub.end();
    const pg = await pgClient(POSTGRES_URL!);
    try {
      // The row appears when the action has run: poll the table (state only visible by asking).
      let rows: unknown[] = [];
      for (let i = 0; i < 300 && rows.length === 0; i++) {
        rows = (await pg.query(`SELECT device, temp FROM ${table}`)).rows;
        if (rows.length === 0) await new Promise((r) => setTimeout(r, 10));
      }
      assert.deepEqual(rows, [{ device: 'd7', temp: 17 }]);
    } finally {
      await pg.end();
    }
  });

  test('PUT /thingport/rules/{ruleName} creates an amqp rule; GET answers it in full; a publish reaches the RabbitMQ queue', { skip: needs('AMQP_URL') }, async () => {
    const exchange = uniqueName('tp_e2e_ex');
    const q = await amqpQueue(AMQP_URL!, exchange, 'readings.*');
    try {
      const payload = { sql: "SELECT temp FROM 'amqp/+/t'", actions: [{ amqp: { exchange, routingKey: 'readings.${topic(2)}', persistent: true } }] };
      const put = await own('PUT', '/thingport/rules/own_amqp', payload);
      assert.equal(put.status, 200, JSON.stringify(put.json));
      const got = await own('GET', '/thingport/rules/own_amqp');
      assert.equal(got.status, 200);
      const rule = got.json.rule as Record<string, unknown>;
      assert.equal(got.json.ruleArn, `arn:aws:iot:${tp.endpoints.region}:${tp.endpoints.accountId}:rule/own_amqp`);
      assert.deepEqual(rule.actions, payload.actions);
      assert.equal(rule.sql, payload.sql);
      assert.equal(typeof rule.createdAt, 'number');
      const pub = await connectClient(tp.mqttPort);
      await pub.publish('amqp/d2/t', JSON.stringify({ temp: 12 }), { qos: 1 });
      await pub.end();
      const m = await q.inbox.next();
      assert.equal(m.routingKey, 'readings.d2');
      assert.deepEqual(JSON.parse(m.content.toString()), { temp: 12 });
      assert.equal(m.deliveryMode, 2);
    } finally {
      await q.close();
    }
  });

  test("GetTopicRule shows Thingport's own actions as empty actions in place; a Get -> ReplaceTopicRule round trip is refused, not a silent loss", async () => {
    const r = await iot.send(new GetTopicRuleCommand({ ruleName: 'cfg_nats' }));
    assert.equal(r.rule?.sql, "SELECT temp FROM 'cfg/+/t'");
    assert.equal(r.rule?.actions?.length, 1);
    assert.deepEqual(Object.values(r.rule!.actions![0]!).filter((v) => v !== undefined), []);
    const err = await expectAwsError(
      iot.send(new ReplaceTopicRuleCommand({ ruleName: 'cfg_nats', topicRulePayload: { sql: r.rule!.sql!, actions: r.rule!.actions! } })),
      'InvalidRequestException',
      { status: 400 },
    );
    assert.match(err.message, /actions\[0\] sets no action type .*PUT \/thingport\/rules\/\{ruleName\}/);
    const still = await own('GET', '/thingport/rules/cfg_nats');
    assert.deepEqual((still.json.rule as { actions: unknown[] }).actions, [{ nats: { subject: `${subjectBase}.\${topic(2)}` } }]);
  });

  test("CreateTopicRule (the AWS API) cannot carry a nats action: InvalidRequestException pointing at Thingport's API", async () => {
    // The SDK drops members it does not know, so send the body by hand.
    const { url, init } = await signRequest(tp.httpUrl, readAdminKey(tp.dataDir), tp.endpoints.region, {
      method: 'POST',
      path: '/rules/aws_nats',
      body: JSON.stringify({ sql: "SELECT * FROM 'a'", actions: [{ nats: { subject: 'a.b' } }] }),
    });
    const res = await fetch(url, init);
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-amzn-errortype')?.split(':')[0], 'InvalidRequestException');
    assert.match(((await res.json()) as { message: string }).message, /nats, amqp and postgres actions are not part of AWS's API/);
    assert.equal((await own('GET', '/thingport/rules/aws_nats')).status, 401, 'nothing was stored');
  });

  test('PUT with bad input is InvalidRequestException naming the field, and stores nothing', async () => {
    const cases: [unknown, RegExp][] = [
      [{ sql: "SELECT * FROM 'a'", actions: [{ postgres: { url: 'postgres://127.0.0.1/db', table: 'x; DROP TABLE y' } }] }, /actions\[0\]\.postgres\.table/],
      [{ sql: "SELECT * FROM 'a'", actions: [{ natz: { subject: 'a' } }] }, /actions\[0\]\.natz is not an action/],
      [{ sql: "SELECT * FROM 'a'", actions: [{ republish: { roleArn: ROLE } }] }, /topicRulePayload\.actions\.1\.member\.republish\.topic.*Member must not be null/],
      [{ sql: "SELECT * FROM 'a'", actions: [], errorAction: { amqp: { exchange: 'x' } } }, /errorAction\.amqp\.routingKey is required/],
      [{ sql: "SELECT * FROM 'a'", actions: [], colour: 'red' }, /colour is not a member of TopicRulePayload/],
      ['{not json', /must be a TopicRulePayload in JSON/],
    ];
    for (const [body, message] of cases) {
      const r = await own('PUT', '/thingport/rules/bad_rule', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.type, 'InvalidRequestException');
      assert.match(String(r.json.message), message);
    }
    assert.equal((await own('GET', '/thingport/rules/bad_rule')).type, 'UnauthorizedException');
  });

  test('PUT replaces a rule (createdAt kept), DELETE removes it', async () => {
    const first = await own('PUT', '/thingport/rules/own_cycle', { sql: "SELECT * FROM 'cycle/1'", actions: [{ nats: { subject: 'cycle.one' } }] });
    assert.equal(first.status, 200);
    const second = await own('PUT', '/thingport/rules/own_cycle', { sql: "SELECT * FROM 'cycle/2'", actions: [{ nats: { subject: 'cycle.two' } }], description: 'v2' });
    assert.equal(second.status, 200);
    const a = first.json.rule as { createdAt: number };
    const b = second.json.rule as { createdAt: number; sql: string; description: string };
    assert.equal(b.createdAt, a.createdAt);
    assert.equal(b.sql, "SELECT * FROM 'cycle/2'");
    assert.equal(b.description, 'v2');
    assert.equal((await own('DELETE', '/thingport/rules/own_cycle')).status, 200);
    const gone = await own('GET', '/thingport/rules/own_cycle');
    assert.equal(gone.status, 401);
    assert.equal(gone.type, 'UnauthorizedException');
  });

  test("kafka through the AWS SDK: CreateTopicRule accepts it; a broker that is down sends AWS's failure to the errorAction", async () => {
    const port = await closedPort();
    await iot.send(
      new CreateTopicRuleCommand({
        ruleName: 'aws_kafka_down',
        topicRulePayload: {
          sql: "SELECT * FROM 'kafka/down'",
          actions: [{ kafka: { destinationArn: 'arn:aws:iot:us-east-1:000000000000:ruledestination/vpc/x', topic: 'readings', clientProperties: { 'bootstrap.servers': `127.0.0.1:${port}` } } }],
          errorAction: { republish: { roleArn: ROLE, topic: 'errors/kafka' } },
        },
      }),
    );
    const pub = await connectClient(tp.mqttPort);
    await pub.publish('kafka/down', '{"v":1}', { qos: 1 });
    await pub.end();
    const [e] = await sub.waitMessages('errors/kafka', 1, 15_000);
    const { failures } = JSON.parse(e!.payload.toString()) as { failures: { failedAction: string; failedResource: string; errorMessage: string }[] };
    assert.deepEqual(failures.map((f) => [f.failedAction, f.failedResource]), [['KafkaAction', 'readings']]);
    assert.match(failures[0]!.errorMessage, /ECONNREFUSED/);
    const r = await iot.send(new GetTopicRuleCommand({ ruleName: 'aws_kafka_down' }));
    assert.equal(r.rule?.actions?.[0]?.kafka?.clientProperties?.['bootstrap.servers'], `127.0.0.1:${port}`);
  });

  test('kafka through the AWS SDK reaches a real cluster', { skip: needs('KAFKA_BROKERS') }, async () => {
    const topic = uniqueName('tp_e2e_kafka');
    const consumer = await kafkaConsume(KAFKA_BROKERS!, topic);
    try {
      await iot.send(
        new CreateTopicRuleCommand({
          ruleName: 'aws_kafka',
          topicRulePayload: { sql: "SELECT temp FROM 'kafka/+/up'", actions: [{ kafka: { destinationArn: 'arn:x', topic, key: '${topic(2)}', clientProperties: { 'bootstrap.servers': KAFKA_BROKERS! } } }] },
        }),
      );
      const pub = await connectClient(tp.mqttPort);
      await pub.publish('kafka/d5/up', JSON.stringify({ temp: 5 }), { qos: 1 });
      await pub.end();
      const m = await consumer.inbox.next(15_000);
      assert.equal(m.key, 'd5');
      assert.deepEqual(JSON.parse(m.value.toString()), { temp: 5 });
    } finally {
      await consumer.close();
    }
  });

  test('[config] a restart with the same rules.definitions is idempotent: the rule keeps its createdAt and still runs', async () => {
    const before = (await own('GET', '/thingport/rules/cfg_nats')).json.rule as { createdAt: number };
    await tp.restart();
    iot.destroy();
    iot = iotClient(tp);
    const afterRestart = (await own('GET', '/thingport/rules/cfg_nats')).json.rule as { createdAt: number; actions: unknown[] };
    assert.equal(afterRestart.createdAt, before.createdAt);
    assert.deepEqual(afterRestart.actions, [{ nats: { subject: `${subjectBase}.\${topic(2)}` } }]);
    if (NATS_URL) {
      const nats = await natsSubscribe(NATS_URL, `${subjectBase}.>`);
      try {
        const pub = await connectClient(tp.mqttPort);
        await pub.publish('cfg/d3/t', JSON.stringify({ temp: 3 }), { qos: 1 });
        await pub.end();
        assert.equal((await nats.inbox.next()).subject, `${subjectBase}.d3`);
      } finally {
        await nats.close();
      }
    }
  });
});

describe('rules: an invalid rules.definitions entry', () => {
  test('[config] stops start-up with a message naming the rule and the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tp-ext-bad-'));
    try {
      const yaml = join(dir, 'thingport.yaml');
      await writeFile(yaml, 'rules:\n  definitions:\n    broken_rule:\n      sql: "SELECT * FROM \'a\'"\n      actions:\n        - nats: { subject: "a.>" }\n');
      const r = await runThingport([...baseArgs(join(dir, 'data')), '--config', yaml]);
      assert.equal(r.timedOut, false);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /rules\.definitions\.broken_rule: actions\[0\]\.nats\.subject "a\.>" has a wildcard token/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
