// The http action module driven directly (no Thingport process) against a real HTTP endpoint, so
// that which messages share a batch is deterministic: batching (count, byte and open-time limits,
// grouping, failures and retries of a whole batch), SigV4 signing checked with Thingport's
// verifier, and the errors a rule gets at creation. 04-http-batching-sigv4 runs the same through the server.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { openDatabase, type SqliteDatabase } from '../../src/core/index.js';
import { createLogger } from '../../src/lib/index.js';
import { startHttpSink, type HttpSink } from '../helpers/http-sink.js';
import { compileHttpAction, type HttpActionDeps } from '../../src/rules/actions-http.js';
import { Destinations } from '../../src/rules/destinations.js';
import { RulesError } from '../../src/rules/errors.js';
import type { RuleAction } from '../../src/rules/model.js';
import type { SqlContext } from '../../src/rules/sql/index.js';
import { SqliteRulesStore } from '../../src/rules/store-sqlite.js';

const ROLE = 'arn:aws:iam::123456789012:role/r';
const CREDS = { accessKeyId: 'AKIAHTTPSIGV4TEST001', secretAccessKey: 'http-sigv4-test-secret', sessionToken: 'session-token-1' };

let db: SqliteDatabase;
let sink: HttpSink;
let deps: HttpActionDeps;

before(async () => {
  db = openDatabase(':memory:');
  sink = await startHttpSink();
  const store = new SqliteRulesStore(db);
  const destinations = new Destinations({ store, region: 'eu-west-1', accountId: '123456789012', logger: createLogger('silent'), apiBaseUrl: () => null });
  // One confirmed destination for the whole endpoint.
  const d = destinations.create(`${sink.url}/`);
  destinations.confirm(d.confirmationToken);
  deps = { destinations, http: { attempts: 3, backoffMs: 1, timeoutMs: 5_000 }, httpSigV4: CREDS };
});

after(async () => {
  await sink.close();
  db.close();
});

beforeEach(() => {
  sink.requests.length = 0;
  sink.script.clear();
});

function ctx(topic: string): SqlContext {
  return { topic, payload: Buffer.alloc(0), clientId: 'c1', principal: null, sourceIp: null, traceId: 't', timestamp: 0, accountId: '123456789012', properties: null };
}

function compile(http: NonNullable<RuleAction['http']>, d: HttpActionDeps = deps) {
  return compileHttpAction(http, d, 'actions[0]', { lookups: {}, sqlVersion: '2016-03-23' });
}

/** Runs the action for each output in the same tick, as the engine does for messages drained together. */
function runAll(a: ReturnType<typeof compile>, outputs: unknown[], topic = 'sensors/d1/data') {
  return Promise.allSettled(outputs.map((output) => a.run({ output, doc: output, ctx: ctx(topic) })));
}

const bodies = (prefix: string) => sink.to(prefix).map((r) => JSON.parse(r.body.toString()) as unknown);

describe('http batching [HTTP action batching]', () => {
  test('maxBatchSize closes a batch: 7 messages at once are POSTed as arrays of 3, 3 and 1', async () => {
    const a = compile({ url: `${sink.url}/count`, enableBatching: true, batchConfig: { maxBatchSize: 3, maxBatchOpenMs: 200 } });
    const results = await runAll(a, [1, 2, 3, 4, 5, 6, 7].map((n) => ({ n })));
    assert.deepEqual(results.map((r) => r.status), Array(7).fill('fulfilled'));
    assert.deepEqual(bodies('/count'), [[{ n: 1 }, { n: 2 }, { n: 3 }], [{ n: 4 }, { n: 5 }, { n: 6 }], [{ n: 7 }]]);
    for (const r of sink.to('/count')) assert.equal(r.headers['content-type'], 'application/json');
  });

  test('maxBatchSizeBytes: a message that would overflow the body starts the next batch; one larger than the limit goes alone', async () => {
    const a = compile({ url: `${sink.url}/bytes`, enableBatching: true, batchConfig: { maxBatchSizeBytes: 100, maxBatchOpenMs: 200 } });
    // Each {"s":"xx..."} is 30 bytes: [a,b,c] is 2 + 3*30 + 2 = 94 bytes; a fourth would be 125.
    const small = (c: string) => ({ s: c.repeat(22) });
    const big = { s: 'z'.repeat(120) };
    await runAll(a, [small('a'), small('b'), small('c'), small('d'), big, small('e')]);
    const got = bodies('/bytes');
    assert.deepEqual(got, [[small('a'), small('b'), small('c')], [small('d')], [big], [small('e')]]);
    for (const r of sink.to('/bytes').slice(0, 2)) assert.ok(r.body.length <= 100, `${r.body.length} bytes`);
  });

  test('maxBatchOpenMs: a batch that reaches no limit is sent when it has been open that long', async () => {
    const a = compile({ url: `${sink.url}/open`, enableBatching: true, batchConfig: { maxBatchOpenMs: 5 } });
    const [r] = await runAll(a, [{ only: true }]);
    assert.equal(r?.status, 'fulfilled');
    assert.deepEqual(bodies('/open'), [[{ only: true }]]);
  });

  test('defaults (maxBatchSize 10) apply when batchConfig is absent; messages are batched per rendered URL, headers and topic', async () => {
    const a = compile({ url: `${sink.url}/group/\${dev}`, confirmationUrl: `${sink.url}/group`, headers: [{ key: 'x-kind', value: '${kind}' }], enableBatching: true });
    const outs = [
      { dev: 'a', kind: 'k1' },
      { dev: 'b', kind: 'k1' },
      { dev: 'a', kind: 'k2' },
      { dev: 'a', kind: 'k1' },
    ];
    await runAll(a, outs);
    await runAll(a, [{ dev: 'a', kind: 'k1', other: true }], 'other/topic');
    const byTarget = sink.to('/group').map((r) => `${r.url} ${String(r.headers['x-kind'])} ${r.body.toString()}`).sort();
    assert.deepEqual(byTarget, [
      '/group/a k1 [{"dev":"a","kind":"k1","other":true}]',
      '/group/a k1 [{"dev":"a","kind":"k1"},{"dev":"a","kind":"k1"}]',
      '/group/a k2 [{"dev":"a","kind":"k2"}]',
      '/group/b k1 [{"dev":"b","kind":"k1"}]',
    ]);
  });

  test('batchAcrossTopics puts messages of different topics in one batch', async () => {
    const a = compile({ url: `${sink.url}/across`, enableBatching: true, batchConfig: { batchAcrossTopics: true, maxBatchSize: 2 } });
    await Promise.all([a.run({ output: { t: 1 }, doc: {}, ctx: ctx('a/1') }), a.run({ output: { t: 2 }, doc: {}, ctx: ctx('b/2') })]);
    assert.deepEqual(bodies('/across'), [[{ t: 1 }, { t: 2 }]]);
  });

  test('retries (5xx) resend the same batch; every message of a batch that still fails is failed', async () => {
    const a = compile({ url: `${sink.url}/retry`, enableBatching: true, batchConfig: { maxBatchSize: 2 } });
    sink.script.set('/retry', [503, 200]);
    const ok = await runAll(a, [{ m: 1 }, { m: 2 }]);
    assert.deepEqual(ok.map((r) => r.status), ['fulfilled', 'fulfilled']);
    assert.deepEqual(sink.to('/retry').map((r) => [r.status, JSON.parse(r.body.toString())]), [
      [503, [{ m: 1 }, { m: 2 }]],
      [200, [{ m: 1 }, { m: 2 }]],
    ]);
    sink.requests.length = 0;
    sink.script.set('/retry', [400]);
    const failed = await runAll(a, [{ m: 3 }, { m: 4 }]);
    assert.equal(sink.to('/retry').length, 1, 'a 400 is not retried');
    for (const r of failed) {
      assert.equal(r.status, 'rejected');
      assert.match(String((r as PromiseRejectedResult).reason), /POST .*\/retry failed: HTTP 400 \(a batch of 2 messages\)/);
    }
  });

  test('binary output is not batched: it is POSTed alone as the bytes, application/octet-stream', async () => {
    const a = compile({ url: `${sink.url}/bin`, enableBatching: true });
    await runAll(a, [Buffer.from([0xde, 0xad, 0xbe, 0xef])]);
    const [r] = sink.to('/bin');
    assert.deepEqual(r?.body, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    assert.equal(r?.headers['content-type'], 'application/octet-stream');
  });

  test('batchConfig without enableBatching: true is ignored (one POST per message, the output as is)', async () => {
    const a = compile({ url: `${sink.url}/single`, batchConfig: { maxBatchSize: 2 } });
    await runAll(a, [{ a: 1 }, { a: 2 }]);
    assert.deepEqual(bodies('/single').sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))), [{ a: 1 }, { a: 2 }]);
  });

  test('a batchConfig value out of AWS range is InvalidRequestException naming the field', () => {
    assert.throws(
      () => compile({ url: `${sink.url}/x`, enableBatching: true, batchConfig: { maxBatchSize: 11 } }),
      (e: unknown) => e instanceof RulesError && e.code === 'rules.invalid_request' && /actions\[0\]\.http\.batchConfig\.maxBatchSize must be an integer from 2 to 10/.test(e.message),
    );
  });
});

describe('http auth.sigv4', () => {
  before(() => {
    sink.signed.set('/signed', { region: 'eu-west-1', service: 'execute-api', keys: { [CREDS.accessKeyId]: CREDS.secretAccessKey } });
  });

  const sigv4 = { signingRegion: 'eu-west-1', serviceName: 'execute-api', roleArn: ROLE };

  test('the POST is signed for serviceName and signingRegion with the configured key; the endpoint verifies it', async () => {
    const a = compile({ url: `${sink.url}/signed/in?src=\${src}&x=a%20b`, confirmationUrl: `${sink.url}/signed`, headers: [{ key: 'X-Device', value: 'd1' }], auth: { sigv4 } });
    const [r] = await runAll(a, [{ src: 'dev 1', v: 1 }]);
    assert.equal(r?.status, 'fulfilled', String((r as PromiseRejectedResult).reason));
    const [req] = sink.to('/signed');
    assert.equal(req?.signatureError, null);
    assert.match(String(req?.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIAHTTPSIGV4TEST001\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^ ]*x-device/);
    assert.equal(req?.headers['x-amz-security-token'], CREDS.sessionToken);
    assert.deepEqual(JSON.parse(req!.body.toString()), { src: 'dev 1', v: 1 });
  });

  test('a wrong key is caught by the endpoint (403, not retried) and fails the message', async () => {
    const a = compile({ url: `${sink.url}/signed/bad`, auth: { sigv4 }, confirmationUrl: `${sink.url}/signed` }, { ...deps, httpSigV4: { accessKeyId: CREDS.accessKeyId, secretAccessKey: 'wrong' } });
    const [r] = await runAll(a, [{ v: 1 }]);
    assert.equal(r?.status, 'rejected');
    assert.match(String((r as PromiseRejectedResult).reason), /HTTP 403/);
    assert.match(sink.to('/signed/bad')[0]?.signatureError ?? '', /InvalidSignatureException/);
  });

  test('signed batches: each attempt of a retried batch is signed and verifies', async () => {
    sink.script.set('/signed/batch', [500, 200]);
    const a = compile({ url: `${sink.url}/signed/batch`, confirmationUrl: `${sink.url}/signed`, auth: { sigv4 }, enableBatching: true, batchConfig: { maxBatchSize: 2 } });
    const res = await runAll(a, [{ v: 1 }, { v: 2 }]);
    assert.deepEqual(res.map((r) => r.status), ['fulfilled', 'fulfilled']);
    assert.deepEqual(sink.to('/signed/batch').map((r) => [r.status, r.signatureError]), [
      [500, null],
      [200, null],
    ]);
  });

  test('without rules.httpSigV4 a sigv4 action is InvalidRequestException saying what to set', () => {
    assert.throws(
      () => compile({ url: `${sink.url}/signed/x`, auth: { sigv4 } }, { ...deps, httpSigV4: null }),
      (e: unknown) => e instanceof RulesError && e.code === 'rules.invalid_request' && /actions\[0\]\.http\.auth\.sigv4 .*rules\.httpSigV4\.accessKeyId and rules\.httpSigV4\.secretAccessKey/.test(e.message),
    );
  });
});
