// The on-premises actions against the real services of this machine (addresses from
// THINGPORT_TEST_NATS_URL, _AMQP_URL, _POSTGRES_URL, _KAFKA_BROKERS; each test skips, saying why,
// without its service): kafka, nats, amqp and postgres reached through a real broker and an MQTT
// client; targets that are down fail into the errorAction; bad configuration is refused by field.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Broker, listenMqtt, type Listener } from '../broker/index.js';
import { mqttConfigSchema, openDatabase, type SqliteDatabase } from '../core/index.js';
import { createLogger } from '../lib/index.js';
import mqtt, { type MqttClient } from 'mqtt';
import { AMQP_URL, Inbox, KAFKA_BROKERS, NATS_URL, POSTGRES_URL, amqpQueue, closedPort, kafkaConsume, natsSubscribe, needs, pgClient, silentServer, uniqueName } from './external-testkit.js';
import { createRules, RulesError, type RulePayload, type Rules } from './index.js';
import { PostgresTarget } from './target-postgres.js';

const ROLE = 'arn:aws:iam::123456789012:role/r';
const logger = createLogger('silent');
let broker: Broker;
let tcp: Listener;
let db: SqliteDatabase;
let rules: Rules;
let client: MqttClient;
/** What the client received, by topic. */
const inboxes = new Map<string, Inbox<Buffer>>();
const inbox = (topic: string): Inbox<Buffer> => {
  let i = inboxes.get(topic);
  if (i === undefined) {
    i = new Inbox<Buffer>();
    inboxes.set(topic, i);
  }
  return i;
};

before(async () => {
  db = openDatabase(':memory:');
  broker = new Broker({ config: mqttConfigSchema.parse({}), logger, hooks: {} });
  rules = createRules({
    db,
    messaging: broker,
    region: 'eu-central-1',
    accountId: '123456789012',
    logger,
    config: {
      ...(NATS_URL ? { nats: { url: NATS_URL } } : {}),
      ...(AMQP_URL ? { amqp: { url: AMQP_URL } } : {}),
      ...(POSTGRES_URL ? { postgres: { url: POSTGRES_URL } } : {}),
      externalTimeoutMs: 3_000,
    },
  });
  rules.start();
  tcp = await listenMqtt(broker, '127.0.0.1', 0);
  client = mqtt.connect(`mqtt://127.0.0.1:${tcp.port}`, { clientId: 'ext-1', protocolVersion: 5, reconnectPeriod: 0 });
  await new Promise<void>((r, j) => {
    client.once('connect', () => r());
    client.once('error', j);
  });
  client.on('message', (topic, payload) => inbox(topic).push(payload));
  await client.subscribeAsync('errors/#', { qos: 1 });
});

after(async () => {
  await client.endAsync();
  await rules.stop();
  await broker.close();
  await tcp.close();
  db.close();
});

const create = (name: string, p: RulePayload): void => void rules.service.createRule(name, p);
const json = (b: Buffer): unknown => JSON.parse(b.toString());

test('nats: the output goes to the templated subject with templated headers', { skip: needs('NATS_URL') }, async () => {
  const base = uniqueName('tp');
  const sub = await natsSubscribe(NATS_URL!, `${base}.>`);
  try {
    create('to_nats', {
      sql: "SELECT temp, topic(2) AS device FROM 'nats/+/data'",
      actions: [{ nats: { subject: `${base}.\${topic(2)}`, headers: [{ key: 'device', value: '${topic(2)}' }] } }],
    });
    await client.publishAsync('nats/d1/data', JSON.stringify({ temp: 21 }), { qos: 1 });
    const m = await sub.inbox.next();
    assert.equal(m.subject, `${base}.d1`);
    assert.deepEqual(json(m.data), { temp: 21, device: 'd1' });
    assert.equal(m.headers.device, 'd1');
    await rules.idle();
    assert.deepEqual(rules.metrics().actions.find((a) => a.ruleName === 'to_nats'), { ruleName: 'to_nats', action: 'nats', succeeded: 1, failed: 0 });
  } finally {
    await sub.close();
  }
});

test('amqp: published to the exchange with the templated routing key, headers and persistence, confirmed', { skip: needs('AMQP_URL') }, async () => {
  const exchange = uniqueName('tp_ex');
  const q = await amqpQueue(AMQP_URL!, exchange, 'sensors.#');
  try {
    create('to_amqp', {
      sql: "SELECT temp FROM 'amqp/+/data'",
      actions: [{ amqp: { exchange, routingKey: 'sensors.${topic(2)}', headers: [{ key: 'x-device', value: '${topic(2)}' }], persistent: true } }],
    });
    await client.publishAsync('amqp/d2/data', JSON.stringify({ temp: 5, other: 1 }), { qos: 1 });
    const m = await q.inbox.next();
    assert.equal(m.exchange, exchange);
    assert.equal(m.routingKey, 'sensors.d2');
    assert.deepEqual(json(m.content), { temp: 5 });
    assert.equal(m.headers['x-device'], 'd2');
    assert.equal(m.deliveryMode, 2);
    assert.equal(m.contentType, 'application/json');
  } finally {
    await q.close();
  }
});

test("amqp: an exchange that does not exist fails the action with the broker's reason, into the errorAction", { skip: needs('AMQP_URL') }, async () => {
  const exchange = uniqueName('tp_missing');
  create('amqp_missing', {
    sql: "SELECT * FROM 'amqp/missing'",
    actions: [{ amqp: { exchange, routingKey: 'k' } }],
    errorAction: { republish: { topic: 'errors/amqp_missing', roleArn: ROLE } },
  });
  await client.publishAsync('amqp/missing', '{"a":1}', { qos: 1 });
  const e = await inbox('errors/amqp_missing').next();
  const failures = (json(e) as { failures: { failedAction: string; failedResource: string; errorMessage: string }[] }).failures;
  assert.equal(failures.length, 1);
  assert.equal(failures[0]!.failedAction, 'AmqpAction');
  assert.equal(failures[0]!.failedResource, `${exchange}/k`);
  assert.match(failures[0]!.errorMessage, /NOT_FOUND - no exchange/);
});

test('postgres: columns from templates and output paths, every value a parameter (SQL in the payload is data)', { skip: needs('POSTGRES_URL') }, async () => {
  const table = uniqueName('tp_rows');
  const pg = await pgClient(POSTGRES_URL!);
  try {
    await pg.query(`CREATE TABLE ${table} (device text, temp int, doc jsonb, note text)`);
    create('to_pg', {
      sql: "SELECT temp, note FROM 'pg/+/data'",
      actions: [{ postgres: { table, columns: { device: '${topic(2)}', temp: 'temp', doc: '*', note: 'note' } } }],
    });
    const note = `it's'); DROP TABLE ${table}; --`;
    await client.publishAsync('pg/d3/data', JSON.stringify({ temp: 22, note }), { qos: 1 });
    await rules.idle();
    const { rows } = await pg.query(`SELECT device, temp, doc, note FROM ${table}`);
    assert.deepEqual(rows, [{ device: 'd3', temp: 22, doc: { temp: 22, note }, note }]);
  } finally {
    await pg.query(`DROP TABLE IF EXISTS ${table}`);
    await pg.end();
  }
});

test('postgres: without columns the output goes as JSON into the payload column', { skip: needs('POSTGRES_URL') }, async () => {
  const table = uniqueName('tp_payload');
  const pg = await pgClient(POSTGRES_URL!);
  try {
    await pg.query(`CREATE TABLE ${table} (id serial, payload jsonb NOT NULL)`);
    create('to_pg_payload', { sql: "SELECT * FROM 'pg/payload'", actions: [{ postgres: { table } }] });
    await client.publishAsync('pg/payload', JSON.stringify({ a: [1, 2], b: { c: 'x' } }), { qos: 1 });
    await rules.idle();
    const { rows } = await pg.query(`SELECT payload FROM ${table}`);
    assert.deepEqual(rows, [{ payload: { a: [1, 2], b: { c: 'x' } } }]);
  } finally {
    await pg.query(`DROP TABLE IF EXISTS ${table}`);
    await pg.end();
  }
});

test('postgres: rows queued in one tick go in one INSERT; a bad row in such a batch fails alone', { skip: needs('POSTGRES_URL') }, async () => {
  const table = uniqueName('tp_batch');
  const pg = await pgClient(POSTGRES_URL!);
  const target = new PostgresTarget(POSTGRES_URL!, 3_000, logger);
  try {
    await pg.query(`CREATE TABLE ${table} (n int)`);
    const quoted = `"${table}"`;
    await Promise.all([1, 2, 3].map((n) => target.insert(quoted, ['"n"'], [n])));
    // One statement, one transaction: every row carries the same xmin.
    const batch = await pg.query(`SELECT n, xmin::text AS tx FROM ${table} ORDER BY n`);
    assert.deepEqual(batch.rows.map((r) => r.n), [1, 2, 3]);
    assert.equal(new Set(batch.rows.map((r) => r.tx)).size, 1, 'the three rows were written by one INSERT');

    const results = await Promise.allSettled([4, 'five', 6].map((n) => target.insert(quoted, ['"n"'], [n])));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.match(String((results[1] as PromiseRejectedResult).reason), /invalid input syntax for type integer/);
    const after = await pg.query(`SELECT n FROM ${table} ORDER BY n`);
    assert.deepEqual(after.rows.map((r) => r.n), [1, 2, 3, 4, 6]);
  } finally {
    await target.close();
    await pg.query(`DROP TABLE IF EXISTS ${table}`);
    await pg.end();
  }
});

test("[Error handling (error action)] targets that are down fail at once, and the errorAction lists each with AWS's failure fields", async () => {
  const [p1, p2, p3, p4] = [await closedPort(), await closedPort(), await closedPort(), await closedPort()];
  create('all_down', {
    sql: "SELECT * FROM 'down/+'",
    actions: [
      { nats: { url: `nats://127.0.0.1:${p1}`, subject: 'a.b' } },
      { amqp: { url: `amqp://127.0.0.1:${p2}`, exchange: 'ex', routingKey: 'k' } },
      { postgres: { url: `postgres://127.0.0.1:${p3}/db`, table: 'readings' } },
      { kafka: { destinationArn: 'arn:aws:iot:eu-central-1:123456789012:ruledestination/vpc/x', topic: 'readings', clientProperties: { 'bootstrap.servers': `127.0.0.1:${p4}` } } },
    ],
    errorAction: { republish: { topic: 'errors/${topic()}', roleArn: ROLE } },
  });
  await client.publishAsync('down/x', JSON.stringify({ v: 1 }), { qos: 1 });
  const e = await inbox('errors/down/x').next(15_000);
  const payload = json(e) as { ruleName: string; topic: string; base64OriginalPayload: string; failures: { failedAction: string; failedResource: string; errorMessage: string }[] };
  assert.equal(payload.ruleName, 'all_down');
  assert.equal(payload.topic, 'down/x');
  assert.equal(Buffer.from(payload.base64OriginalPayload, 'base64').toString(), '{"v":1}');
  const byAction = Object.fromEntries(payload.failures.map((f) => [f.failedAction, f]));
  assert.deepEqual(Object.keys(byAction).sort(), ['AmqpAction', 'KafkaAction', 'NatsAction', 'PostgresAction']);
  assert.equal(byAction.NatsAction!.failedResource, 'a.b');
  assert.equal(byAction.AmqpAction!.failedResource, 'ex/k');
  assert.equal(byAction.PostgresAction!.failedResource, 'readings');
  assert.equal(byAction.KafkaAction!.failedResource, 'readings');
  for (const f of payload.failures) assert.match(f.errorMessage, /refused/i, `${f.failedAction}: ${f.errorMessage}`);
  await rules.idle();
  const counted = rules.metrics().actions.filter((a) => a.ruleName === 'all_down');
  assert.deepEqual(counted.map((a) => [a.action, a.succeeded, a.failed]).sort(), [['amqp', 0, 1], ['kafka', 0, 1], ['nats', 0, 1], ['postgres', 0, 1]]);
});

test('a target that accepts connections but never answers fails the action after rules.externalTimeoutMs; stop() does not hang on it', async () => {
  const silent = await silentServer();
  const own = createRules({ db: openDatabase(':memory:'), messaging: broker, region: 'eu-central-1', accountId: '123456789012', logger, config: { externalTimeoutMs: 300 } });
  try {
    own.start();
    own.service.createRule('hung', {
      sql: "SELECT * FROM 'hung/+'",
      actions: [
        { nats: { url: `nats://127.0.0.1:${silent.port}`, subject: 'a' } },
        { amqp: { url: `amqp://127.0.0.1:${silent.port}`, exchange: '', routingKey: 'q' } },
        { postgres: { url: `postgres://u@127.0.0.1:${silent.port}/db`, table: 't' } },
        { kafka: { destinationArn: 'arn:x', topic: 't', clientProperties: { 'bootstrap.servers': `127.0.0.1:${silent.port}` } } },
      ],
      errorAction: { republish: { topic: 'errors/hung', roleArn: ROLE } },
    });
    await client.publishAsync('hung/1', '{}', { qos: 1 });
    const e = await inbox('errors/hung').next(15_000);
    const failures = (json(e) as { failures: { failedAction: string; errorMessage: string }[] }).failures;
    assert.deepEqual(failures.map((f) => f.failedAction).sort(), ['AmqpAction', 'KafkaAction', 'NatsAction', 'PostgresAction']);
    for (const f of failures) assert.match(f.errorMessage, /time(d)? ?out/i, `${f.failedAction}: ${f.errorMessage}`);
  } finally {
    await own.stop();
    await silent.close();
  }
});

test('bad action configuration is InvalidRequestException naming the field', async () => {
  const bare = createRules({ db: openDatabase(':memory:'), messaging: { subscribe: () => () => {}, publish: async () => {} }, region: 'eu-central-1', accountId: '123456789012', logger });
  const kafka = (clientProperties: Record<string, string>) => ({ kafka: { destinationArn: 'arn:x', topic: 't', clientProperties } });
  const cases: [unknown, RegExp][] = [
    [{ nats: {} }, /actions\[0\]\.nats\.subject is required/],
    [{ nats: { subject: 'a.*' } }, /actions\[0\]\.nats\.subject "a\.\*" has a wildcard token/],
    [{ nats: { subject: 'a b' } }, /actions\[0\]\.nats\.subject/],
    [{ nats: { subject: 'a', url: 'http://127.0.0.1:4222' } }, /actions\[0\]\.nats\.url must be a nats:\/\/ or tls:\/\/ URL/],
    [{ nats: { subject: 'a', subjekt: 'b' } }, /actions\[0\]\.nats\.subjekt is not a member/],
    [{ nats: { subject: 'a', headers: [{ key: 'bad:key', value: 'v' }] } }, /actions\[0\]\.nats\.headers\[0\]\.key/],
    [{ amqp: { exchange: 'bad exchange!', routingKey: 'k' } }, /actions\[0\]\.amqp\.exchange/],
    [{ amqp: { exchange: 'x' } }, /actions\[0\]\.amqp\.routingKey is required/],
    [{ amqp: { exchange: 'x', routingKey: 'k', persistent: 'yes' } }, /actions\[0\]\.amqp\.persistent must be true or false/],
    [{ postgres: { url: 'postgres://127.0.0.1/db', table: 'x; DROP TABLE y' } }, /actions\[0\]\.postgres\.table/],
    [{ postgres: { url: 'postgres://127.0.0.1/db', table: 'a.b.c' } }, /actions\[0\]\.postgres\.table/],
    [{ postgres: { url: 'postgres://127.0.0.1/db', table: 't', columns: { 'a"b': 'x' } } }, /actions\[0\]\.postgres\.columns "a\\"b"/],
    [{ postgres: { url: 'postgres://127.0.0.1/db', table: 't', columns: {} } }, /actions\[0\]\.postgres\.columns must name at least one column/],
    [{ postgres: { table: 't' } }, /actions\[0\]\.postgres\.url is required \(rules\.postgres\.url is not configured\)/],
    [kafka({}), /actions\[0\]\.kafka\.clientProperties\.bootstrap\.servers is required/],
    [kafka({ 'bootstrap.servers': 'nohost' }), /bootstrap\.servers: "nohost" is not host:port/],
    [kafka({ 'bootstrap.servers': 'k:9092', foo: 'bar' }), /actions\[0\]\.kafka\.clientProperties\.foo is not a client property/],
    [kafka({ 'bootstrap.servers': 'k:9092', 'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'GSSAPI' }), /clientProperties\.sasl\.mechanism must be PLAIN/],
    [kafka({ 'bootstrap.servers': 'k:9092', 'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'PLAIN' }), /clientProperties\.sasl\.plain\.username and sasl\.plain\.password are required/],
    [kafka({ 'bootstrap.servers': 'k:9092', 'compression.type': 'snappy' }), /clientProperties\.compression\.type must be none or gzip/],
    [kafka({ 'bootstrap.servers': 'k:9092', 'security.protocol': 'SSL', 'ssl.truststore': 'bm90IGEgY2VydA==' }), /clientProperties\.ssl\.truststore must be PEM/],
    [{}, /actions\[0\] sets no action type .*PUT \/thingport\/rules/],
  ];
  try {
    for (const [action, message] of cases) {
      assert.throws(
        () => bare.service.createRule('bad', { sql: "SELECT * FROM 'a'", actions: [action as never] }),
        (err: unknown) => err instanceof RulesError && err.code === 'rules.invalid_request' && message.test(err.message),
        `${JSON.stringify(action)} -> ${message}`,
      );
    }
    assert.throws(
      () => bare.service.createRule('bad', { sql: "SELECT * FROM 'a'", actions: [], errorAction: { nats: { subject: '' } } }),
      (err: unknown) => err instanceof RulesError && /errorAction\.nats\.subject must not be empty/.test(err.message),
    );
    assert.throws(
      () => bare.service.createRule('bad', { sql: "SELECT * FROM 'a'", actions: [{ nats: { subject: 'a.${topic(}' } }] }),
      (err: unknown) => err instanceof RulesError && err.code === 'rules.sql_parse' && /actions\[0\]\.nats\.subject/.test(err.message),
    );
    assert.equal(bare.service.listRules().length, 0, 'nothing was stored');
  } finally {
    await bare.stop();
  }
});

test('kafka: the output reaches a real cluster with the templated key and headers', { skip: needs('KAFKA_BROKERS') }, async () => {
  const topic = uniqueName('tp_kafka');
  const consumer = await kafkaConsume(KAFKA_BROKERS!, topic);
  try {
    create('to_kafka', {
      sql: "SELECT temp FROM 'kafka/+/data'",
      actions: [{ kafka: { destinationArn: 'arn:x', topic, key: '${topic(2)}', headers: [{ key: 'device', value: '${topic(2)}' }], clientProperties: { 'bootstrap.servers': KAFKA_BROKERS!, acks: '1' } } }],
    });
    await client.publishAsync('kafka/d9/data', JSON.stringify({ temp: 9 }), { qos: 1 });
    const m = await consumer.inbox.next(15_000);
    assert.equal(m.key, 'd9');
    assert.deepEqual(json(m.value), { temp: 9 });
    assert.equal(m.headers.device, 'd9');
  } finally {
    await consumer.close();
  }
});

test('Rules.stop() waits for running actions and closes the connections it opened', { skip: needs('POSTGRES_URL') }, async () => {
  const app = uniqueName('tp_app');
  const table = uniqueName('tp_stop');
  const pg = await pgClient(POSTGRES_URL!);
  const url = `${POSTGRES_URL!}${POSTGRES_URL!.includes('?') ? '&' : '?'}application_name=${app}`;
  const own = createRules({ db: openDatabase(':memory:'), messaging: broker, region: 'eu-central-1', accountId: '123456789012', logger, config: { postgres: { url } } });
  const sessions = async (): Promise<number> => Number((await pg.query('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [app])).rows[0].n);
  try {
    await pg.query(`CREATE TABLE ${table} (payload jsonb)`);
    own.start();
    own.service.createRule('stop_pg', { sql: "SELECT * FROM 'stop/pg'", actions: [{ postgres: { table } }] });
    await client.publishAsync('stop/pg', '{"a":1}', { qos: 1 });
    await own.idle();
    assert.ok((await sessions()) > 0, 'the action opened a session');
    await own.stop();
    for (let i = 0; (await sessions()) > 0; i++) {
      assert.ok(i < 200, 'the session closed after stop()');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal((await pg.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n, '1');
  } finally {
    await own.stop();
    await pg.query(`DROP TABLE IF EXISTS ${table}`);
    await pg.end();
  }
});
