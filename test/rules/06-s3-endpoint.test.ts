// s3 rule actions through the running server, sent to an S3-compatible endpoint configured with
// THINGPORT_RULES__S3__* (a test-owned S3 server that verifies SigV4): object key templates,
// exact bytes (JSON and binary), canned ACL, and errorAction when the secret is wrong or the
// endpoint is down.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { CreateTopicRuleCommand, InvalidRequestException, type IoTClient } from '@aws-sdk/client-iot';
import { startThingport, type Thingport } from '../helpers/thingport.js';
import { connectClient, type TestClient } from '../helpers/mqtt.js';
import { expectAwsError, iotClient } from '../helpers/iot.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

const ROLE = 'arn:aws:iam::000000000000:role/rules';
const KEY = { accessKeyId: 'AKIARULESS3E2E000001', secretAccessKey: 'rules-s3-e2e-secret' };
const WAIT_MS = 15_000;

/** A loopback port that was free a moment ago: nothing listens there. */
async function closedPortUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

describe('rules: s3 action to an S3-compatible endpoint', () => {
  let s3: S3TestServer;
  let tp: Thingport;
  let iot: IoTClient;
  let sub: TestClient;
  let pub: TestClient;

  before(async () => {
    s3 = await startS3Server({ region: 'eu-west-1', keys: { [KEY.accessKeyId]: KEY.secretAccessKey }, buckets: ['telemetry', 'wrong-secret'] });
    const buckets = { 'wrong-secret': { secretAccessKey: 'not-the-secret' }, 'down-bucket': { endpoint: await closedPortUrl() } };
    tp = await startThingport({
      env: {
        THINGPORT_RULES__S3__ENDPOINT: s3.url,
        THINGPORT_RULES__S3__REGION: 'eu-west-1',
        THINGPORT_RULES__S3__ACCESS_KEY_ID: KEY.accessKeyId,
        THINGPORT_RULES__S3__SECRET_ACCESS_KEY: KEY.secretAccessKey,
        THINGPORT_RULES__S3__TIMEOUT_MS: '5000',
        THINGPORT_RULES__S3__BUCKETS: JSON.stringify(buckets),
      },
    });
    iot = iotClient(tp);
    const rule = (ruleName: string, sql: string, s3Action: Record<string, string>) =>
      iot.send(
        new CreateTopicRuleCommand({
          ruleName,
          topicRulePayload: { sql, actions: [{ s3: { roleArn: ROLE, ...s3Action } as never }], errorAction: { republish: { roleArn: ROLE, topic: `errors/${ruleName}` } } },
        }),
      );
    await rule('to_s3', "SELECT * FROM 'up/+/json'", { bucketName: 'telemetry', key: '${topic(2)}/${seq}.json', cannedAcl: 'bucket-owner-full-control' });
    await rule('to_s3_bin', "SELECT * FROM 'up/+/bin'", { bucketName: 'telemetry', key: 'raw/${topic(2)}.bin' });
    await rule('wrong_secret', "SELECT * FROM 'up/+/wrong'", { bucketName: 'wrong-secret', key: '${topic(2)}' });
    await rule('endpoint_down', "SELECT * FROM 'up/+/down'", { bucketName: 'down-bucket', key: '${topic(2)}' });
    sub = await connectClient(tp.mqttPort);
    await sub.subscribe('errors/#');
    pub = await connectClient(tp.mqttPort);
  });

  after(async () => {
    await pub?.end();
    await sub?.end();
    iot?.destroy();
    await tp?.stop();
    await s3?.close();
  });

  test('[S3 action] the object key comes from the templates, the bytes are the rule output, cannedAcl is the object ACL', async () => {
    const payload = JSON.stringify({ seq: 41, temp: 20.5, tags: ['a', 'b'] });
    await pub.publish('up/dev-7/json', payload, { qos: 1 });
    await s3.until(() => s3.objects.has('telemetry/dev-7/41.json'), 'the PutObject of dev-7/41.json');
    const o = s3.objects.get('telemetry/dev-7/41.json')!;
    assert.equal(o.body.toString(), payload);
    assert.equal(o.headers['x-amz-acl'], 'bucket-owner-full-control');
    assert.deepEqual(sub.matching(() => true), [], 'no error action ran');
  });

  test('[S3 action] a binary payload is stored byte for byte', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0x7b, 0x80, 0x0a, 0xc3, 0x28]);
    await pub.publish('up/dev-8/bin', bytes, { qos: 1 });
    await s3.until(() => s3.objects.has('telemetry/raw/dev-8.bin'), 'the PutObject of raw/dev-8.bin');
    assert.deepEqual(s3.objects.get('telemetry/raw/dev-8.bin')!.body, bytes);
  });

  test('[Error action] a wrong secret (403 SignatureDoesNotMatch) fails the action: errorAction gets S3Action and the bucket', async () => {
    await pub.publish('up/dev-9/wrong', JSON.stringify({ v: 1 }), { qos: 1 });
    const m = await sub.waitMessage('errors/wrong_secret', WAIT_MS);
    const e = JSON.parse(m.payload.toString());
    assert.equal(e.ruleName, 'wrong_secret');
    assert.equal(e.failures.length, 1);
    assert.equal(e.failures[0].failedAction, 'S3Action');
    assert.equal(e.failures[0].failedResource, 'wrong-secret');
    assert.match(e.failures[0].errorMessage, /SignatureDoesNotMatch: HTTP 403/);
    assert.ok(s3.log.some((l) => l.path === '/wrong-secret/dev-9' && l.code === 'SignatureDoesNotMatch'));
    assert.equal(s3.objects.has('wrong-secret/dev-9'), false);
  });

  test('[Error action] an endpoint that is down fails the action after its attempts: errorAction runs', async () => {
    await pub.publish('up/dev-10/down', JSON.stringify({ v: 1 }), { qos: 1 });
    const m = await sub.waitMessage('errors/endpoint_down', WAIT_MS);
    const e = JSON.parse(m.payload.toString());
    assert.equal(e.failures[0].failedAction, 'S3Action');
    assert.equal(e.failures[0].failedResource, 'down-bucket');
    assert.match(e.failures[0].errorMessage, /PutObject s3:\/\/down-bucket\/dev-10 at http:\/\/127\.0\.0\.1:\d+ failed: .*ECONNREFUSED/);
  });

  test('CreateTopicRule: an s3 bucketName that is not a bucket name is InvalidRequestException naming the field', async () => {
    await expectAwsError(
      iot.send(new CreateTopicRuleCommand({ ruleName: 'bad_bucket', topicRulePayload: { sql: "SELECT * FROM 'a'", actions: [{ s3: { roleArn: ROLE, bucketName: 'Bad_Bucket', key: 'k' } }] } })),
      'InvalidRequestException',
      { cls: InvalidRequestException, message: /actions\[0\]\.s3\.bucketName Bad_Bucket is not a valid bucket name/ },
    );
  });
});
