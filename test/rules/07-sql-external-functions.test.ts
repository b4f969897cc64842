// SQL functions that reach outside the message, through the real server: aws_lambda() runs a
// configured local function (worker thread) during evaluation, get_secret() fills an action's
// template from rules.secrets, decode(…, 'proto', …) reads a FileDescriptorSet from the object
// store; and JSON Decimals such as 7.0 come out of an action as written.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateTopicRuleCommand, type IoTClient } from '@aws-sdk/client-iot';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor.js';
import { expectAwsError, iotClient, readAdminKey } from '../helpers/iot.js';
import { connectClient, eventually, type TestClient } from '../helpers/mqtt.js';
import { readAws, signRequest } from '../helpers/sigv4.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

const ROLE = 'arn:aws:iam::000000000000:role/rules';
const republish = (topic: string, extra: Record<string, unknown> = {}) => ({ republish: { roleArn: ROLE, topic, qos: 1 as const, ...extra } });

describe('rules: aws_lambda(), get_secret(), decode proto and Decimals on the running server', () => {
  let dir: string;
  let tp: Thingport;
  let iot: IoTClient;
  let sub: TestClient;
  let Reading: protobuf.Type;

  const createRule = (ruleName: string, sql: string, actions: unknown[], errorAction?: unknown) =>
    iot.send(new CreateTopicRuleCommand({ ruleName, topicRulePayload: { sql, actions: actions as never, ...(errorAction ? { errorAction: errorAction as never } : {}), ruleDisabled: false } }));

  async function traces(rule: string): Promise<{ error?: string; matched: boolean }[]> {
    const signed = await signRequest(tp.httpUrl, readAdminKey(tp.dataDir), tp.endpoints.region, { method: 'GET', path: `/rules/${rule}/traces` });
    const r = await readAws(await fetch(signed.url, signed.init));
    assert.equal(r.status, 200);
    return r.body.traces as { error?: string; matched: boolean }[];
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rules-ext-'));
    writeFileSync(
      join(dir, 'enrich.mjs'),
      'export default async (event) => { if (event.n < 0) throw new Error("negative input refused"); return { doubled: event.n * 2, unit: "C" }; };\n',
    );
    writeFileSync(join(dir, 'spin.mjs'), 'export default async () => { for (;;) {} };\n');
    const config = join(dir, 'thingport.yaml');
    writeFileSync(
      config,
      [
        'rules:',
        '  functionTimeoutMs: 500',
        '  functions:',
        `    enrich: { module: ${JSON.stringify(join(dir, 'enrich.mjs'))} }`,
        `    "arn:aws:lambda:us-east-1:000000000000:function:spin": { module: ${JSON.stringify(join(dir, 'spin.mjs'))} }`,
        '  secrets:',
        '    api-keys: { API_KEY_VALUE: k-123 }',
        '',
      ].join('\n'),
    );
    tp = await startThingport({ args: ['--config', config] });
    iot = iotClient(tp);

    // The FileDescriptorSet, where the s3 action would have written it.
    const root = protobuf.parse('syntax = "proto3"; package demo; message Reading { string device_id = 1; int64 count = 2; double temp = 3; }', { keepCase: true }).root;
    const set = root.toDescriptor('proto3');
    set.file[0]!.name = 'reading.proto';
    const bytes = descriptor.FileDescriptorSet.encode(set).finish();
    mkdirSync(join(tp.dataDir, 's3', 'protos'), { recursive: true });
    writeFileSync(join(tp.dataDir, 's3', 'protos', 'reading.desc'), bytes);
    Reading = protobuf.Root.fromDescriptor(bytes).lookupType('demo.Reading');

    sub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await sub.subscribe(['out/#', 'errors/#']);
  });

  after(async () => {
    await sub?.end();
    iot?.destroy();
    await tp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('[Data types] a payload Decimal 7.0 stays Decimal: 7.0 / 2 = 3.5, and 7.0 is republished as 7.0', async () => {
    await createRule('decimals', "SELECT x, x / 2 AS half, 2.5 * 2 AS five FROM 'dec/+'", [republish('out/dec')]);
    const pub = await connectClient(tp.mqttPort);
    await pub.publish('dec/d1', '{"x": 7.0}', { qos: 1 });
    const [m] = await sub.waitMessages('out/dec', 1);
    assert.equal(m!.payload.toString(), '{"x":7.0,"half":3.5,"five":5.0}');
    await pub.end();
  });

  test('[aws_lambda] the function result is used in SELECT; the function runs in a worker; traceid() still works', async () => {
    await createRule('enriched', "SELECT aws_lambda('enrich', {'n': n}).doubled AS d, aws_lambda('enrich', {'n': n}).unit AS unit, n, traceid() AS t FROM 'fn/+'", [republish('out/fn')], republish('errors/fn'));
    const pub = await connectClient(tp.mqttPort);
    await pub.publish('fn/d1', '{"n": 21}', { qos: 1 });
    const [m] = await sub.waitMessages('out/fn', 1);
    const out = JSON.parse(m!.payload.toString()) as Record<string, unknown>;
    assert.match(String(out.t), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'traceid() in a rule evaluated in passes');
    delete out.t;
    assert.deepEqual(out, { d: 42, unit: 'C', n: 21 });
    await pub.end();
  });

  test('[aws_lambda] a failing function is an evaluation error: no action runs and no errorAction (it covers rule actions only)', async () => {
    const pub = await connectClient(tp.mqttPort);
    await pub.publish('fn/d2', '{"n": -1}', { qos: 1 });
    await eventually(async () => (await traces('enriched')).some((t) => t.error !== undefined), 5_000, 'the failed evaluation is traced');
    const failed = (await traces('enriched')).find((t) => t.error !== undefined)!;
    assert.match(failed.error!, /aws_lambda\(enrich\) failed: negative input refused/);
    assert.equal(failed.matched, false);
    // A later good message still flows; by then the failed one is long finished.
    await pub.publish('fn/d3', '{"n": 1}', { qos: 1 });
    await sub.waitMessages((r) => r.topic === 'out/fn' && JSON.parse(r.payload.toString()).n === 1, 1);
    assert.equal(sub.matching('errors/fn').length, 0);
    assert.equal(sub.matching((r) => r.topic === 'out/fn' && JSON.parse(r.payload.toString()).n === -1).length, 0);
    await pub.end();
  });

  test('[aws_lambda] a function past rules.functionTimeoutMs is an evaluation error', async () => {
    await createRule('spinning', "SELECT aws_lambda('arn:aws:lambda:us-east-1:000000000000:function:spin', *) AS r FROM 'spin/+'", [republish('out/spin')]);
    const pub = await connectClient(tp.mqttPort);
    await pub.publish('spin/d1', '{}', { qos: 1 });
    await eventually(async () => (await traces('spinning')).some((t) => t.error !== undefined), 10_000, 'the timed-out evaluation is traced');
    assert.match((await traces('spinning'))[0]!.error!, /timed out after 500 ms/);
    await pub.end();
  });

  test('[aws_lambda] CreateTopicRule naming a function that is not configured is SqlParseException naming it', async () => {
    await expectAwsError(createRule('nofn', "SELECT aws_lambda('arn:aws:lambda:us-east-1:000000000000:function:missing', *) FROM 'x'", [republish('out/x')]), 'SqlParseException', {
      message: /function arn:aws:lambda:us-east-1:000000000000:function:missing is not configured/,
    });
  });

  test('[get_secret] a secret from rules.secrets fills an action template; in SELECT it is SqlParseException', async () => {
    await createRule('secret', "SELECT n FROM 'sec/+'", [
      republish('out/sec', { headers: { userProperties: [{ key: 'api-key', value: `\${get_secret('api-keys', 'SecretString', 'API_KEY_VALUE', '${ROLE}')}` }] } }),
    ]);
    const pub = await connectClient(tp.mqttPort);
    await pub.publish('sec/d1', '{"n": 1}', { qos: 1 });
    const [m] = await sub.waitMessages('out/sec', 1);
    assert.deepEqual({ ...m!.packet.properties?.userProperties }, { 'api-key': 'k-123' });
    await pub.end();
    await expectAwsError(createRule('secretsql', `SELECT get_secret('api-keys', 'SecretString', '${ROLE}') AS s FROM 'x'`, [republish('out/x')]), 'SqlParseException', { message: /substitution templates/ });
  });

  test('[Protobuf message decoding] a binary protobuf payload decodes with the FileDescriptorSet from the object store', async () => {
    await createRule('proto', "SELECT decode(*, 'proto', 'protos', 'reading.desc', 'reading', 'Reading') AS reading, topic(2) AS device FROM 'pb/+'", [republish('out/pb')]);
    const pub = await connectClient(tp.mqttPort);
    await pub.publish('pb/d1', Buffer.from(Reading.encode(Reading.fromObject({ deviceId: 'd1', count: '12345678901234', temp: 20.5 })).finish()), { qos: 1 });
    const [m] = await sub.waitMessages('out/pb', 1);
    assert.deepEqual(JSON.parse(m!.payload.toString()), { reading: { deviceId: 'd1', count: '12345678901234', temp: 20.5 }, device: 'd1' });
    await pub.end();
    await expectAwsError(createRule('protomissing', "SELECT decode(*, 'proto', 'protos', 'gone.desc', 'reading', 'Reading') FROM 'pb/+'", [republish('out/pb')]), 'SqlParseException', {
      message: /s3:\/\/protos\/gone.desc does not exist/,
    });
  });
});
