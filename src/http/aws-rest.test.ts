// End to end: a real HTTP listener with the IoT, IoT data-plane and IoT Jobs data-plane models,
// driven by AWS's own SDK clients (real SigV4, real serialisation) and by raw fetch.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  CreateThingCommand,
  DeleteThingCommand,
  DescribeCertificateCommand,
  DescribeThingCommand,
  InvalidRequestException,
  IoTClient,
  IoTServiceException,
  ListThingsCommand,
  ResourceNotFoundException,
  UpdateThingCommand,
  type IoTClientConfig,
} from '@aws-sdk/client-iot';
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { SignatureV4 } from '@smithy/signature-v4';
import type { FastifyInstance } from 'fastify';
import { arn } from '../core/index.js';
import { createLogger } from '../lib/index.js';
import { AwsServiceError } from './aws-errors.js';
import { createAwsRestRouter, type AwsRequestContext } from './aws-rest.js';
import { iotDataModel, type IotDataOperations } from './models/iot-data.gen.js';
import { iotJobsDataModel, type IotJobsDataOperations } from './models/iot-jobs-data.gen.js';
import { iotModel, type IotOperations } from './models/iot.gen.js';
import { paginate } from './paginate.js';
import { createHttpApp } from './server.js';

const REGION = 'eu-central-1';
const ACCOUNT = '123456789012';
const KEY = { accessKeyId: 'AKIATHINGPORTTEST001', secretAccessKey: 'thingport-test-secret-0123456789abcdefABCD' };
const THINGS = Array.from({ length: 5 }, (_, i) => ({ thingName: `lamp-${i}`, thingArn: arn(REGION, ACCOUNT, `thing/lamp-${i}`), attributes: { room: `r${i}` }, version: 1 }));
const CREATED = new Date('2026-02-03T04:05:06.789Z');
const BODY_LIMIT = 64 * 1024;

let app: FastifyInstance;
let endpoint: string;
const seen: { listThings?: unknown; ctx?: AwsRequestContext; shadow?: Buffer } = {};

before(async () => {
  app = createHttpApp({ logger: createLogger('silent'), health: () => ({}), metrics: { render: async () => '', contentType: 'text/plain' } });
  const authenticate = (id: string) => (id === KEY.accessKeyId ? { secretAccessKey: KEY.secretAccessKey, principal: 'user/admin' } : null);
  createAwsRestRouter<IotOperations>(app, {
    service: iotModel,
    region: REGION,
    authenticate,
    logger: createLogger('silent'),
    bodyLimit: BODY_LIMIT,
    handlers: {
      ListThings: (input, ctx) => {
        seen.listThings = input;
        seen.ctx = ctx;
        const page = paginate(THINGS, input, 2);
        return { things: page.items, nextToken: page.nextToken };
      },
      DescribeThing: ({ thingName }) => {
        throw new AwsServiceError('ResourceNotFoundException', `Thing ${thingName} does not exist`);
      },
      CreateThing: ({ thingName }) => ({ thingName, thingArn: arn(REGION, ACCOUNT, `thing/${thingName}`), thingId: 'id-1' }),
      DescribeCertificate: ({ certificateId }) => ({ certificateDescription: { certificateId, status: 'ACTIVE', creationDate: CREATED } }),
      UpdateThing: () => {
        throw new Error('store exploded');
      },
    },
  });
  createAwsRestRouter<IotDataOperations>(app, {
    service: iotDataModel,
    region: REGION,
    authenticate,
    logger: createLogger('silent'),
    handlers: {
      UpdateThingShadow: ({ payload }) => {
        seen.shadow = Buffer.from(payload);
        return { payload };
      },
      GetThingShadow: ({ thingName, shadowName }) => ({ payload: Buffer.from(JSON.stringify({ thingName, shadowName })) }),
    },
  });
  createAwsRestRouter<IotJobsDataOperations>(app, {
    service: iotJobsDataModel,
    region: REGION,
    authenticate,
    logger: createLogger('silent'),
    handlers: { GetPendingJobExecutions: () => ({ inProgressJobs: [], queuedJobs: [{ jobId: 'j1', queuedAt: 1700000000, executionNumber: 1 }] }) },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  endpoint = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});

after(() => app.close());

const iot = (config: Partial<IoTClientConfig> = {}) => new IoTClient({ endpoint, region: REGION, credentials: KEY, maxAttempts: 1, ...config });

async function rejects<T extends Error>(p: Promise<unknown>): Promise<T & { $metadata: { httpStatusCode?: number; requestId?: string } }> {
  try {
    await p;
  } catch (err) {
    return err as T & { $metadata: { httpStatusCode?: number; requestId?: string } };
  }
  throw new Error('expected the call to fail');
}

test('ListThings: typed query input, a page of results, opaque nextToken, the caller as principal', async () => {
  const client = iot();
  const first = await client.send(new ListThingsCommand({ maxResults: 2, usePrefixAttributeValue: true, attributeName: 'room' }));
  assert.deepEqual(seen.listThings, { maxResults: 2, usePrefixAttributeValue: true, attributeName: 'room' });
  assert.equal(seen.ctx?.principal, 'user/admin');
  assert.equal(seen.ctx?.operation, 'ListThings');
  assert.deepEqual(first.things?.map((t) => t.thingName), ['lamp-0', 'lamp-1']);
  assert.equal(first.things?.[0]?.thingArn, `arn:aws:iot:${REGION}:${ACCOUNT}:thing/lamp-0`);
  assert.deepEqual(first.things?.[0]?.attributes, { room: 'r0' });
  assert.match(first.$metadata.requestId ?? '', /^[0-9a-f-]{36}$/);
  const second = await client.send(new ListThingsCommand({ maxResults: 2, nextToken: first.nextToken }));
  assert.deepEqual(second.things?.map((t) => t.thingName), ['lamp-2', 'lamp-3']);
  const bad = await rejects<InvalidRequestException>(client.send(new ListThingsCommand({ nextToken: 'not-a-token' })));
  assert.ok(bad instanceof InvalidRequestException);
});

test('timestamps travel as epoch seconds and come back as the same Date', async () => {
  const out = await iot().send(new DescribeCertificateCommand({ certificateId: 'a'.repeat(64) }));
  assert.equal(out.certificateDescription?.creationDate?.getTime(), CREATED.getTime());
  assert.equal(out.certificateDescription?.status, 'ACTIVE');
});

test('a handler error becomes the modelled exception class with its message and status', async () => {
  const err = await rejects<ResourceNotFoundException>(iot().send(new DescribeThingCommand({ thingName: 'ghost' })));
  assert.ok(err instanceof ResourceNotFoundException);
  assert.equal(err.message, 'Thing ghost does not exist');
  assert.equal(err.$metadata.httpStatusCode, 404);
});

test('input validation: InvalidRequestException naming the bad field, as AWS words it', async () => {
  const client = iot();
  const long = await rejects<InvalidRequestException>(client.send(new CreateThingCommand({ thingName: 'x'.repeat(129) })));
  assert.ok(long instanceof InvalidRequestException);
  assert.equal(long.$metadata.httpStatusCode, 400);
  assert.match(long.message, /^1 validation error detected: Value 'x{129}' at 'thingName' failed to satisfy constraint: Member must have length less than or equal to 128$/);
  const pattern = await rejects<InvalidRequestException>(client.send(new CreateThingCommand({ thingName: 'bad name/!' })));
  assert.match(pattern.message, /Value 'bad name\/!' at 'thingName' failed to satisfy constraint: Member must satisfy regular expression pattern: \[a-zA-Z0-9:_-\]\+/);
  const nested = await rejects<InvalidRequestException>(client.send(new CreateThingCommand({ thingName: 'ok', attributePayload: { attributes: { 'bad key!': 'v' } } })));
  assert.match(nested.message, /at 'attributePayload.attributes' failed to satisfy constraint: Map keys must satisfy constraint: \[Member must satisfy regular expression pattern/);
  const created = await client.send(new CreateThingCommand({ thingName: 'lamp:9_ok-1' }));
  assert.equal(created.thingArn, `arn:aws:iot:${REGION}:${ACCOUNT}:thing/lamp:9_ok-1`);
});

test('bad signature: InvalidSignatureException "The request signature we calculated does not match..."', async () => {
  const err = await rejects<IoTServiceException>(iot({ credentials: { ...KEY, secretAccessKey: 'wrong' } }).send(new ListThingsCommand({})));
  assert.equal(err.name, 'InvalidSignatureException');
  assert.equal(err.$metadata.httpStatusCode, 403);
  assert.match(err.message, /^The request signature we calculated does not match the signature you provided\./);
});

test('unknown access key: UnrecognizedClientException', async () => {
  const err = await rejects<IoTServiceException>(iot({ credentials: { ...KEY, accessKeyId: 'AKIAUNKNOWN000000000' } }).send(new ListThingsCommand({})));
  assert.equal(err.name, 'UnrecognizedClientException');
  assert.equal(err.message, 'The security token included in the request is invalid.');
  assert.equal(err.$metadata.httpStatusCode, 403);
});

test('skewed client clock: "Signature expired"; with retries the SDK corrects its clock from our Date header', async () => {
  const err = await rejects<IoTServiceException>(iot({ systemClockOffset: -20 * 60_000 }).send(new ListThingsCommand({})));
  assert.equal(err.name, 'InvalidSignatureException');
  assert.match(err.message, /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/);
  const out = await iot({ systemClockOffset: -20 * 60_000, maxAttempts: 3 }).send(new ListThingsCommand({}));
  assert.equal(out.things?.length, 2);
});

test('wrong region in the signature is rejected, naming the region to use', async () => {
  const err = await rejects<IoTServiceException>(iot({ region: 'us-west-2' }).send(new ListThingsCommand({})));
  assert.equal(err.name, 'InvalidSignatureException');
  assert.match(err.message, /not 'us-west-2'\. This server's region is 'eu-central-1'/);
});

test('an operation without a handler: 501 NotImplementedException naming it; a crashing handler: 500', async () => {
  const err = await rejects<IoTServiceException>(iot().send(new DeleteThingCommand({ thingName: 'lamp-1' })));
  assert.equal(err.name, 'NotImplementedException');
  assert.equal(err.$metadata.httpStatusCode, 501);
  assert.match(err.message, /IoT operation DeleteThing/);
  const crash = await rejects<IoTServiceException>(iot().send(new UpdateThingCommand({ thingName: 'lamp-1' })));
  assert.equal(crash.name, 'InternalFailureException');
  assert.equal(crash.$metadata.httpStatusCode, 500);
});

/** Hash constructor for the smithy signer: SHA-256, or HMAC-SHA-256 when given a key. */
class Sha256 {
  private readonly h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const key = secret === undefined || typeof secret === 'string' ? secret : ArrayBuffer.isView(secret) ? new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength) : new Uint8Array(secret);
    this.h = key === undefined ? createHash('sha256') : createHmac('sha256', key);
  }
  update(data: Uint8Array | string): void {
    this.h.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.h.digest();
  }
}

/** A fetch signed (header form) or presigned (query form) by @smithy/signature-v4. */
async function signedFetch(opts: { method?: string; path: string; query?: Record<string, string>; body?: string; service?: string; presign?: boolean; signingDate?: Date }): Promise<Response> {
  const url = new URL(endpoint);
  const signer = new SignatureV4({ service: opts.service ?? 'iot', region: REGION, credentials: KEY, sha256: Sha256 });
  const request = {
    method: opts.method ?? 'GET',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: opts.path,
    query: opts.query ?? {},
    headers: { host: url.host, ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: opts.body,
  };
  const signed = opts.presign ? await signer.presign(request, { expiresIn: 60, signingDate: opts.signingDate }) : await signer.sign(request, { signingDate: opts.signingDate });
  const qs = new URLSearchParams(signed.query as Record<string, string>).toString().replace(/\+/g, '%20');
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k !== 'host'));
  return fetch(`${endpoint}${signed.path}${qs ? `?${qs}` : ''}`, { method: signed.method, headers, body: opts.body });
}

test('presigned URL (query-string SigV4) works with a plain fetch, and expires', async () => {
  const res = await signedFetch({ path: '/things', query: { maxResults: '1' }, presign: true });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { things: Array<{ thingName: string }> };
  assert.deepEqual(body.things.map((t) => t.thingName), ['lamp-0']);
  const old = await signedFetch({ path: '/things', presign: true, signingDate: new Date(Date.now() - 120_000) });
  assert.equal(old.status, 403);
  assert.equal(old.headers.get('x-amzn-errortype'), 'InvalidSignatureException');
});

test('unsigned: 403 MissingAuthenticationTokenException; unknown route: 404 UnknownOperationException', async () => {
  const res = await fetch(`${endpoint}/things`);
  assert.equal(res.status, 403);
  assert.equal(res.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
  assert.match(res.headers.get('x-amzn-requestid') ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(((await res.json()) as { message: string }).message, 'Missing Authentication Token');
  const unknown = await signedFetch({ path: '/no/such/operation' });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.headers.get('x-amzn-errortype'), 'UnknownOperationException');
  assert.equal((await fetch(`${endpoint}/health`)).status, 200, 'the app\u2019s own routes still answer');
});

test('malformed JSON: 400 SerializationException; a body over the limit: 413', async () => {
  const bad = await signedFetch({ method: 'POST', path: '/things/lamp-7', body: '{"thingTypeName": ' });
  assert.equal(bad.status, 400);
  assert.equal(bad.headers.get('x-amzn-errortype'), 'SerializationException');
  const big = await signedFetch({ method: 'POST', path: '/things/lamp-7', body: JSON.stringify({ thingTypeName: 'x'.repeat(BODY_LIMIT) }) });
  assert.equal(big.status, 413);
  assert.equal(big.headers.get('x-amzn-errortype'), 'RequestEntityTooLargeException');
});

test('IoT data plane: blob payloads travel as the raw body; shadow name from the query', async () => {
  const client = new IoTDataPlaneClient({ endpoint, region: REGION, credentials: KEY, maxAttempts: 1 });
  const doc = JSON.stringify({ state: { desired: { on: true } } });
  const updated = await client.send(new UpdateThingShadowCommand({ thingName: 'lamp-1', payload: Buffer.from(doc) }));
  assert.equal(seen.shadow?.toString(), doc);
  assert.equal(Buffer.from(updated.payload ?? []).toString(), doc);
  const got = await client.send(new GetThingShadowCommand({ thingName: 'lamp-1', shadowName: 'config' }));
  assert.deepEqual(JSON.parse(Buffer.from(got.payload ?? []).toString()), { thingName: 'lamp-1', shadowName: 'config' });
});

test('a path two services share is routed by the service in the credential scope', async () => {
  // GET /things/{thingName}/jobs is IoT ListJobExecutionsForThing and Jobs data GetPendingJobExecutions.
  const jobs = await signedFetch({ path: '/things/lamp-1/jobs', service: 'iot-jobs-data' });
  assert.equal(jobs.status, 200);
  assert.deepEqual(await jobs.json(), { inProgressJobs: [], queuedJobs: [{ jobId: 'j1', queuedAt: 1700000000, executionNumber: 1 }] });
  const control = await signedFetch({ path: '/things/lamp-1/jobs', service: 'iot' });
  assert.equal(control.status, 501);
  assert.match(((await control.json()) as { message: string }).message, /ListJobExecutionsForThing/);
  const neither = await signedFetch({ path: '/things/lamp-1/jobs', service: 'iotdata' });
  assert.equal(neither.status, 403);
  assert.match(((await neither.json()) as { message: string }).message, /Credential should be scoped to correct service: 'iot' or 'iot-jobs-data'/);
});
