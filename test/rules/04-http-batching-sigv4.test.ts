// http rule actions through the running server: batching (limits hold whatever the timing,
// retries resend a whole batch, a failed batch runs errorAction for each of its messages) and
// SigV4-signed POSTs with the key from THINGPORT_RULES__HTTP_SIG_V4__*, verified by the endpoint
// with Thingport's own verifier. Which messages share a batch depends on timing here, so these
// tests assert what holds for any split; 03-http-action pins exact batches.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfirmTopicRuleDestinationCommand, CreateTopicRuleCommand, CreateTopicRuleDestinationCommand, type IoTClient } from '@aws-sdk/client-iot';
import { startThingport, type Thingport } from '../helpers/thingport.js';
import { connectClient, type TestClient } from '../helpers/mqtt.js';
import { iotClient } from '../helpers/iot.js';
import { startHttpSink, type HttpSink, type SinkRequest } from '../helpers/http-sink.js';

const ROLE = 'arn:aws:iam::000000000000:role/rules';
const KEY = { accessKeyId: 'AKIARULESHTTPE2E0001', secretAccessKey: 'rules-http-e2e-secret' };
const WAIT_MS = 15_000;

type Http = { url: string; confirmationUrl?: string; enableBatching?: boolean; batchConfig?: Record<string, number | boolean>; auth?: unknown };

/** The JSON array bodies POSTed under `prefix` (200 answers only), flattened. */
function delivered(sink: HttpSink, prefix: string): unknown[] {
  return sink
    .to(prefix)
    .filter((r) => r.status === 200)
    .flatMap((r) => JSON.parse(r.body.toString()) as unknown[]);
}

describe('rules: http action batching and SigV4 on the running server', () => {
  let sink: HttpSink;
  let tp: Thingport;
  let iot: IoTClient;
  let pub: TestClient;
  let sub: TestClient;

  const rule = (ruleName: string, topic: string, http: Http) =>
    iot.send(
      new CreateTopicRuleCommand({
        ruleName,
        topicRulePayload: { sql: `SELECT * FROM '${topic}'`, actions: [{ http: http as never }], errorAction: { republish: { roleArn: ROLE, topic: `errors/${ruleName}` } } },
      }),
    );

  before(async () => {
    sink = await startHttpSink();
    sink.signed.set('/signed', { region: 'eu-west-1', service: 'execute-api', keys: { [KEY.accessKeyId]: KEY.secretAccessKey } });
    tp = await startThingport({
      env: {
        THINGPORT_RULES__HTTP_SIG_V4__ACCESS_KEY_ID: KEY.accessKeyId,
        THINGPORT_RULES__HTTP_SIG_V4__SECRET_ACCESS_KEY: KEY.secretAccessKey,
        THINGPORT_RULES__HTTP_BACKOFF_MS: '5',
      },
    });
    iot = iotClient(tp);
    // One destination for the whole endpoint, confirmed with the token it receives.
    await iot.send(new CreateTopicRuleDestinationCommand({ destinationConfiguration: { httpUrlConfiguration: { confirmationUrl: `${sink.url}/` } } }));
    await sink.until(() => sink.requests.some((r) => r.body.includes('confirmationToken')), 'the destination confirmation');
    const token = JSON.parse(sink.requests.find((r) => r.body.includes('confirmationToken'))!.body.toString()).confirmationToken as string;
    await iot.send(new ConfirmTopicRuleDestinationCommand({ confirmationToken: token }));
    sub = await connectClient(tp.mqttPort);
    await sub.subscribe('errors/#');
    pub = await connectClient(tp.mqttPort);
  });

  after(async () => {
    await pub?.end();
    await sub?.end();
    iot?.destroy();
    await tp?.stop();
    await sink?.close();
  });

  test('[HTTP action batching] maxBatchSize: every POST is a JSON array of at most 3 messages, and all 7 arrive', async () => {
    await rule('batch_count', 'count/+', { url: `${sink.url}/count`, enableBatching: true, batchConfig: { maxBatchSize: 3, maxBatchOpenMs: 200 } });
    for (let n = 1; n <= 7; n++) await pub.publish('count/d1', JSON.stringify({ n }), { qos: 1 });
    await sink.until(() => delivered(sink, '/count').length >= 7, 'seven batched messages');
    for (const r of sink.to('/count')) {
      const items = JSON.parse(r.body.toString()) as unknown[];
      assert.ok(Array.isArray(items) && items.length >= 1 && items.length <= 3, `a batch of ${items.length}`);
      assert.equal(r.headers['content-type'], 'application/json');
    }
    assert.deepEqual(
      delivered(sink, '/count').map((m) => (m as { n: number }).n).sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7],
    );
  });

  test('[HTTP action batching] maxBatchSizeBytes: no POST body is larger than the limit, and all messages arrive', async () => {
    await rule('batch_bytes', 'bytes/+', { url: `${sink.url}/bytes`, enableBatching: true, batchConfig: { maxBatchSizeBytes: 100, maxBatchOpenMs: 200 } });
    // Each message is 30 bytes of JSON: at most three fit in 100 bytes.
    const msgs = ['a', 'b', 'c', 'd', 'e', 'f'].map((c) => ({ s: c.repeat(22) }));
    for (const m of msgs) await pub.publish('bytes/d1', JSON.stringify(m), { qos: 1 });
    await sink.until(() => delivered(sink, '/bytes').length >= 6, 'six batched messages');
    for (const r of sink.to('/bytes')) assert.ok(r.body.length <= 100, `a body of ${r.body.length} bytes`);
    assert.deepEqual(delivered(sink, '/bytes').map((m) => JSON.stringify(m)).sort(), msgs.map((m) => JSON.stringify(m)).sort());
  });

  test('[HTTP action batching] maxBatchOpenMs: a lone message is sent as a one-element array', async () => {
    await rule('batch_open', 'open/+', { url: `${sink.url}/open`, enableBatching: true, batchConfig: { maxBatchOpenMs: 5 } });
    await pub.publish('open/d1', JSON.stringify({ alone: true }), { qos: 1 });
    await sink.until(() => sink.to('/open').length === 1, 'the lone batch');
    assert.deepEqual(JSON.parse(sink.to('/open')[0]!.body.toString()), [{ alone: true }]);
  });

  test('[HTTP action batching] a batch answered 503 is retried whole; the messages are delivered and no errorAction runs', async () => {
    sink.script.set('/retry', [503]);
    await rule('batch_retry', 'retry/+', { url: `${sink.url}/retry`, enableBatching: true, batchConfig: { maxBatchSize: 2 } });
    await pub.publish('retry/d1', JSON.stringify({ r: 1 }), { qos: 1 });
    await pub.publish('retry/d1', JSON.stringify({ r: 2 }), { qos: 1 });
    await sink.until(() => delivered(sink, '/retry').length >= 2, 'both messages delivered');
    const reqs = sink.to('/retry');
    const failed = reqs.filter((r) => r.status === 503);
    assert.equal(failed.length, 1);
    const resent = (f: SinkRequest) => reqs.some((r) => r.status === 200 && reqs.indexOf(r) > reqs.indexOf(f) && r.body.equals(f.body));
    assert.ok(resent(failed[0]!), 'the 503 batch was POSTed again, unchanged');
    assert.deepEqual(delivered(sink, '/retry').map((m) => (m as { r: number }).r).sort(), [1, 2]);
    assert.deepEqual(sub.matching('errors/batch_retry'), []);
  });

  test('[HTTP action batching] a batch that fails runs errorAction once for each of its messages', async () => {
    sink.script.set('/reject', Array(10).fill(400));
    await rule('batch_reject', 'reject/+', { url: `${sink.url}/reject`, enableBatching: true, batchConfig: { maxBatchSize: 3 } });
    const payloads = [1, 2, 3].map((x) => JSON.stringify({ x }));
    for (const p of payloads) await pub.publish('reject/d1', p, { qos: 1 });
    const errs = await sub.waitMessages('errors/batch_reject', 3, WAIT_MS);
    const got = errs.map((m) => JSON.parse(m.payload.toString()) as { failures: { failedAction: string; errorMessage: string }[]; base64OriginalPayload: string });
    for (const e of got) {
      assert.equal(e.failures[0]!.failedAction, 'HttpAction');
      assert.match(e.failures[0]!.errorMessage, /POST .*\/reject failed: HTTP 400 \(a batch of [1-3] messages?\)/);
    }
    assert.deepEqual(got.map((e) => Buffer.from(e.base64OriginalPayload, 'base64').toString()).sort(), payloads);
  });

  test('[HTTP action SigV4] the POST is signed with the configured key for serviceName and signingRegion; the endpoint verifies it', async () => {
    await rule('signed', 'signed/+', {
      url: `${sink.url}/signed/\${topic(2)}`,
      confirmationUrl: `${sink.url}/signed`,
      auth: { sigv4: { signingRegion: 'eu-west-1', serviceName: 'execute-api', roleArn: ROLE } },
    });
    await pub.publish('signed/d7', JSON.stringify({ v: 7 }), { qos: 1 });
    await sink.until(() => sink.to('/signed/d7').length === 1, 'the signed POST');
    const r = sink.to('/signed/d7')[0]!;
    assert.equal(r.signatureError, null);
    assert.equal(r.status, 200);
    assert.match(String(r.headers.authorization), /Credential=AKIARULESHTTPE2E0001\/\d{8}\/eu-west-1\/execute-api\/aws4_request/);
    assert.deepEqual(JSON.parse(r.body.toString()), { v: 7 });
    assert.deepEqual(sub.matching('errors/signed'), []);
  });
});
