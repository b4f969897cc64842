/**
 * 01 — Who may call the AWS IoT API: SigV4 on every request (Authorization header and presigned
 * query form), the admin key written on first start (keys.json, AWS credentials and config files),
 * `thingport keys create|list|revoke`, and the AWS CLI pointed at Thingport. Every refusal is the
 * error type and status a real AWS endpoint gives, so the SDK raises the same exception.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DescribeEndpointCommand, DescribeThingCommand, ListThingsCommand, type IoTClient } from '@aws-sdk/client-iot';
import { awsCliMissing, awsJson, runAws } from '../helpers/aws-cli.js';
import { expectAwsError, iotClient, readAdminKey, type AccessKey } from '../helpers/iot.js';
import { presignedUrl, readAws, signRequest } from '../helpers/sigv4.js';
import { runThingport, startThingport, type Thingport } from '../helpers/thingport.js';

const MINUTE = 60_000;

describe('01 API authentication', () => {
  let tp: Thingport;
  let admin: AccessKey;
  let iot: IoTClient;
  before(async () => {
    tp = await startThingport();
    admin = readAdminKey(tp.dataDir);
    iot = iotClient(tp, admin);
  });
  after(async () => {
    iot?.destroy();
    await tp?.stop();
  });

  /** `thingport keys ARGS --data-dir <the server's>`. */
  function keysCli(...args: string[]): ReturnType<typeof runThingport> {
    return runThingport(['keys', ...args, '--data-dir', tp.dataDir]);
  }

  test('[Issue 4 §API first start] the admin key is in keys.json, in the credentials file as profile [thingport], and the config file names region and endpoint', () => {
    assert.match(admin.accessKeyId, /^AKIA[A-Z0-9]{16}$/);
    assert.equal(admin.secretAccessKey.length, 40);
    const credentials = readFileSync(tp.endpoints.credentialsFile, 'utf8');
    assert.match(credentials, /^\[thingport\]$/m);
    assert.match(credentials, new RegExp(`^aws_access_key_id = ${admin.accessKeyId}$`, 'm'));
    assert.match(credentials, new RegExp(`^aws_secret_access_key = ${admin.secretAccessKey}$`, 'm'));
    const config = readFileSync(tp.endpoints.configFile, 'utf8');
    assert.match(config, /^\[profile thingport\]$/m);
    assert.match(config, new RegExp(`^region = ${tp.endpoints.region}$`, 'm'));
    assert.match(config, new RegExp(`^endpoint_url = ${tp.httpUrl.replace(/[.]/g, '\\.')}$`, 'm'));
    assert.equal(tp.endpoints.profile, 'thingport');
  });

  test('[Issue 4 §API first start] the start-up summary prints how to use the admin key: aws --profile thingport ... iot list-things', () => {
    const summary = tp.stderr();
    assert.match(summary, /AWS credentials\s+\S+aws-credentials \(profile thingport\)/);
    assert.match(summary, /aws (.* )?--profile thingport .*iot list-things/, `the summary shows the command to run:\n${summary}`);
  });

  test('[AWS SigV4] the SDK signed with the admin key lists things', async () => {
    const r = await iot.send(new ListThingsCommand({}));
    assert.equal(r.$metadata.httpStatusCode, 200);
    assert.ok(Array.isArray(r.things));
  });

  test('[AWS SigV4] a wrong secret access key: 403 InvalidSignatureException "The request signature we calculated does not match"', async () => {
    const bad = iotClient(tp, { accessKeyId: admin.accessKeyId, secretAccessKey: 'x'.repeat(40) });
    await expectAwsError(bad.send(new ListThingsCommand({})), 'InvalidSignatureException', { status: 403, message: /signature we calculated does not match/ });
    bad.destroy();
  });

  test('[AWS SigV4] an unknown access key id: 403 UnrecognizedClientException "The security token included in the request is invalid."', async () => {
    const bad = iotClient(tp, { accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: admin.secretAccessKey });
    await expectAwsError(bad.send(new ListThingsCommand({})), 'UnrecognizedClientException', { status: 403, message: /security token included in the request is invalid/ });
    bad.destroy();
  });

  for (const [offset, what, message] of [
    [-20 * MINUTE, 'behind', /Signature expired/],
    [20 * MINUTE, 'ahead', /Signature not yet current/],
  ] as const) {
    test(`[AWS SigV4 15-minute skew] a client clock 20 minutes ${what}: 403 InvalidSignatureException`, async () => {
      const skewed = iotClient(tp, admin, { systemClockOffset: offset });
      await expectAwsError(skewed.send(new ListThingsCommand({})), 'InvalidSignatureException', { status: 403, message });
      skewed.destroy();
    });
  }

  test('[AWS SigV4 15-minute skew] a clock 10 minutes off is within the allowed skew', async () => {
    for (const offset of [-10 * MINUTE, 10 * MINUTE]) {
      const skewed = iotClient(tp, admin, { systemClockOffset: offset });
      assert.equal((await skewed.send(new ListThingsCommand({}))).$metadata.httpStatusCode, 200);
      skewed.destroy();
    }
  });

  test('[AWS SDK clock-skew correction] with retries on, the SDK corrects a skewed clock from the response Date header and succeeds', async () => {
    const skewed = iotClient(tp, admin, { systemClockOffset: -30 * MINUTE, maxAttempts: 3 });
    const r = await skewed.send(new ListThingsCommand({}));
    assert.equal(r.$metadata.httpStatusCode, 200);
    assert.ok(Math.abs(await Promise.resolve(skewed.config.systemClockOffset)) < 2 * MINUTE, 'offset corrected');
    skewed.destroy();
  });

  test('[AWS REST] an unsigned request: 403 MissingAuthenticationTokenException "Missing Authentication Token"', async () => {
    const r = await readAws(await fetch(`${tp.httpUrl}/things`));
    assert.equal(r.status, 403);
    assert.equal(r.errorType, 'MissingAuthenticationTokenException');
    assert.equal(r.body.message, 'Missing Authentication Token');
  });

  test('[AWS SigV4 presigned URL] a GET presigned with X-Amz-* query parameters is served; a changed signature or query is refused', async () => {
    const url = await presignedUrl(tp.httpUrl, admin, tp.endpoints.region, { method: 'GET', path: '/things', query: { maxResults: '5' } }, { expiresIn: 300 });
    assert.match(url, /X-Amz-Signature=[0-9a-f]{64}/);
    const ok = await readAws(await fetch(url));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.ok(Array.isArray(ok.body.things));

    const badSig = url.replace(/X-Amz-Signature=([0-9a-f])/, (_m, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`);
    const r1 = await readAws(await fetch(badSig));
    assert.equal(r1.status, 403);
    assert.equal(r1.errorType, 'InvalidSignatureException');

    const r2 = await readAws(await fetch(url.replace('maxResults=5', 'maxResults=6')));
    assert.equal(r2.status, 403);
    assert.equal(r2.errorType, 'InvalidSignatureException');
  });

  test('[AWS SigV4 presigned URL] past X-Amz-Date + X-Amz-Expires: 403 InvalidSignatureException "Signature expired"', async () => {
    const url = await presignedUrl(tp.httpUrl, admin, tp.endpoints.region, { method: 'GET', path: '/things' }, { expiresIn: 60, signingDate: new Date(Date.now() - 5 * MINUTE) });
    const r = await readAws(await fetch(url));
    assert.equal(r.status, 403);
    assert.equal(r.errorType, 'InvalidSignatureException');
    assert.match(String(r.body.message), /Signature expired/);
  });

  test('[AWS SigV4 payload hash] a body changed after signing: 403 InvalidSignatureException, and nothing is created', async () => {
    const signed = await signRequest(tp.httpUrl, admin, tp.endpoints.region, { method: 'POST', path: '/things/sigv4-tampered', body: JSON.stringify({ attributePayload: { attributes: { a: '1' } } }) });
    const r = await readAws(await fetch(signed.url, { ...signed.init, body: JSON.stringify({ attributePayload: { attributes: { a: '2' } } }) }));
    assert.equal(r.status, 403);
    assert.equal(r.errorType, 'InvalidSignatureException');
    await expectAwsError(iot.send(new DescribeThingCommand({ thingName: 'sigv4-tampered' })), 'ResourceNotFoundException', { status: 404 });
  });

  test('[AWS SigV4 credential scope] a signature scoped to another region: 403 InvalidSignatureException naming this server\'s region', async () => {
    const other = tp.endpoints.region === 'eu-west-1' ? 'us-east-1' : 'eu-west-1';
    const c = iotClient(tp, admin, { region: other });
    await expectAwsError(c.send(new ListThingsCommand({})), 'InvalidSignatureException', { status: 403, message: new RegExp(tp.endpoints.region) });
    c.destroy();
  });

  test('[thingport keys] create prints a new key once; it signs requests; list shows it ACTIVE beside the admin key', async () => {
    const created = await keysCli('create', '--name', 'ci-robot', '--json');
    assert.equal(created.code, 0, created.stderr);
    const key = JSON.parse(created.stdout) as AccessKey & { name: string };
    assert.match(key.accessKeyId, /^AKIA[A-Z0-9]{16}$/);
    assert.equal(key.name, 'ci-robot');
    const c = iotClient(tp, key);
    assert.equal((await c.send(new ListThingsCommand({}))).$metadata.httpStatusCode, 200);
    c.destroy();

    const listed = await keysCli('list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const all = JSON.parse(listed.stdout) as Array<{ accessKeyId: string; name: string; status: string; secretAccessKey?: string }>;
    assert.equal(all.find((k) => k.accessKeyId === key.accessKeyId)?.status, 'ACTIVE');
    assert.equal(all.find((k) => k.accessKeyId === admin.accessKeyId)?.name, 'admin');
    assert.ok(all.every((k) => k.secretAccessKey === undefined), 'list never shows secrets');
    const table = await keysCli('list');
    assert.match(table.stdout, /ACCESS KEY ID\s+NAME\s+STATUS\s+CREATED/);
    assert.ok(!table.stdout.includes(key.secretAccessKey), 'the table shows no secret');
  });

  test('[thingport keys] a revoked key is refused by the running server at once: 403 UnrecognizedClientException', async () => {
    const created = await keysCli('create', '--name', 'short-lived', '--json');
    const key = JSON.parse(created.stdout) as AccessKey;
    const c = iotClient(tp, key);
    assert.equal((await c.send(new ListThingsCommand({}))).$metadata.httpStatusCode, 200);
    const revoked = await keysCli('revoke', key.accessKeyId);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`Revoked ${key.accessKeyId}`));
    await expectAwsError(c.send(new ListThingsCommand({})), 'UnrecognizedClientException', { status: 403 });
    c.destroy();
    const listed = JSON.parse((await keysCli('list', '--json')).stdout) as Array<{ accessKeyId: string; status: string }>;
    assert.equal(listed.find((k) => k.accessKeyId === key.accessKeyId)?.status, 'REVOKED');
    // Revoking again, or an unknown id, is an error exit.
    assert.equal((await keysCli('revoke', key.accessKeyId)).code, 1);
    assert.equal((await keysCli('revoke', 'AKIANOSUCHKEY0000000')).code, 1);
  });

  test('[thingport keys] usage errors exit 2: unknown action, revoke without an id, a bad --name', async () => {
    assert.equal((await keysCli('rotate')).code, 2);
    assert.equal((await keysCli('revoke')).code, 2);
    const bad = await keysCli('create', '--name', 'has space');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /name/);
  });

  test('[AWS DescribeEndpoint] iot:Data-ATS names the MQTT/TLS listener; iot:CredentialProvider and iot:Jobs the HTTPS one', async () => {
    const mqtts = new URL(tp.endpoints.mqtts ?? '');
    const https = new URL(tp.endpoints.https ?? '');
    for (const endpointType of ['iot:Data-ATS', 'iot:Data', undefined]) {
      const r = await iot.send(new DescribeEndpointCommand(endpointType ? { endpointType } : {}));
      assert.equal(r.endpointAddress, `${mqtts.hostname}:${mqtts.port}`, String(endpointType));
    }
    for (const endpointType of ['iot:CredentialProvider', 'iot:Jobs']) {
      const r = await iot.send(new DescribeEndpointCommand({ endpointType }));
      assert.equal(r.endpointAddress, `${https.hostname}:${https.port}`, endpointType);
    }
    await expectAwsError(iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Nonsense' })), 'InvalidRequestException', { status: 400 });
  });

  describe('the AWS CLI', () => {
    const missing = awsCliMissing();
    if (missing !== null) console.log(`# skipping AWS CLI tests: ${missing}`);

    test('[AWS CLI] aws --profile thingport --endpoint-url URL iot list-things, with the generated credentials and config files', { skip: missing ?? false }, async () => {
      const out = await awsJson<{ things: unknown[] }>(tp, ['--profile', 'thingport', '--endpoint-url', tp.httpUrl, 'iot', 'list-things']);
      assert.ok(Array.isArray(out.things));
    });

    test('[AWS CLI] the config file\'s endpoint_url and region suffice: aws --profile thingport iot create-thing / describe-thing', { skip: missing ?? false }, async () => {
      const created = await awsJson<{ thingName: string; thingArn: string }>(tp, ['--profile', 'thingport', 'iot', 'create-thing', '--thing-name', 'cli-thing', '--attribute-payload', '{"attributes":{"room":"lab"}}']);
      assert.equal(created.thingArn, `arn:aws:iot:${tp.endpoints.region}:${tp.endpoints.accountId}:thing/cli-thing`);
      const described = await awsJson<{ attributes: Record<string, string>; version: number }>(tp, ['--profile', 'thingport', 'iot', 'describe-thing', '--thing-name', 'cli-thing']);
      assert.deepEqual(described.attributes, { room: 'lab' });
      assert.equal(described.version, 1);
    });

    test('[AWS CLI] AWS errors reach the CLI by name: describe-thing of a missing thing says ResourceNotFoundException', { skip: missing ?? false }, async () => {
      const r = await runAws(tp, ['--profile', 'thingport', 'iot', 'describe-thing', '--thing-name', 'no-such-thing']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /ResourceNotFoundException/);
    });

    test('[AWS CLI] a bad secret in the credentials is refused with InvalidSignatureException', { skip: missing ?? false }, async () => {
      const r = await runAws(tp, ['--endpoint-url', tp.httpUrl, '--region', tp.endpoints.region, 'iot', 'list-things'], {
        AWS_ACCESS_KEY_ID: admin.accessKeyId,
        AWS_SECRET_ACCESS_KEY: 'y'.repeat(40),
      });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /InvalidSignatureException/);
    });
  });
});
