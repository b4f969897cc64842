// The custom authorizer operations end to end: a real HTTP listener (createAwsRestRouter) driven
// by AWS's own @aws-sdk/client-iot, with TestInvokeAuthorizer calling real functions (a local
// module in a worker thread and an HTTP endpoint).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ClearDefaultAuthorizerCommand,
  CreateAuthorizerCommand,
  DeleteAuthorizerCommand,
  DeleteConflictException,
  DescribeAuthorizerCommand,
  DescribeDefaultAuthorizerCommand,
  InvalidRequestException,
  InvalidResponseException,
  IoTClient,
  ListAuthorizersCommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  SetDefaultAuthorizerCommand,
  TestInvokeAuthorizerCommand,
  UpdateAuthorizerCommand,
} from '@aws-sdk/client-iot';
import type { FastifyInstance } from 'fastify';
import { EventBus, openDatabase } from '../core/index.js';
import { createAwsRestRouter, createHttpApp, iotModel, type IotOperations } from '../http/index.js';
import { createLogger } from '../lib/index.js';
import { createRegistry } from '../registry/index.js';
import { ACCOUNT, REGION, TELEMETRY_POLICY, signingKeys, startFunctionEndpoint, writeFunctionModules } from './authorizers-testkit.js';
import { FakeMessaging, tempDataDir } from './certificates-testkit.js';
import { createIdentity, type Identity } from './index.js';

let dir: Awaited<ReturnType<typeof tempDataDir>>;
let moduleDir: string;
let app: FastifyInstance;
let identity: Identity;
let iot: IoTClient;
let endpoint: Awaited<ReturnType<typeof startFunctionEndpoint>>;
const keys = signingKeys();
const FN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:passwordFn`;

before(async () => {
  dir = await tempDataDir();
  moduleDir = mkdtempSync(join(tmpdir(), 'thingport-authorizers-'));
  const modules = writeFunctionModules(moduleDir);
  endpoint = await startFunctionEndpoint((e) => ({ isAuthenticated: e.token === 'ok', principalId: 'Http1', policyDocuments: [], disconnectAfterInSeconds: 3600 }));
  const db = openDatabase(':memory:');
  const bus = new EventBus();
  const messaging = new FakeMessaging();
  const logger = createLogger('silent');
  const registry = createRegistry({ db, bus, region: REGION, accountId: ACCOUNT, messaging, logger });
  identity = await createIdentity({
    db,
    bus,
    dataDir: dir.dataDir,
    region: REGION,
    accountId: ACCOUNT,
    registry: registry.service,
    messaging,
    logger,
    allowAnonymous: false,
    anonymousLoopback: false,
    endpoints: () => ({ mqtts: null, https: null, mqtt: null }),
    authorizers: { functions: { passwordFn: { module: modules.password }, throwFn: { module: modules.throws }, httpFn: { url: endpoint.url } }, timeoutMs: 2_000 },
  });
  app = createHttpApp({ logger, health: () => ({}), metrics: { render: async () => '', contentType: 'text/plain' } });
  createAwsRestRouter<IotOperations>(app, { service: iotModel, region: REGION, authenticate: identity.accessKeys, handlers: { ...registry.iotHandlers, ...identity.iotHandlers }, logger });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const key = identity.accessKeyService.create('tester');
  iot = new IoTClient({
    endpoint: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`,
    region: REGION,
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    maxAttempts: 1,
  });
});

after(async () => {
  await app?.close();
  await endpoint?.close();
  identity?.close();
  dir?.cleanup();
  rmSync(moduleDir, { recursive: true, force: true });
});

async function rejects<E extends Error>(p: Promise<unknown>, cls: new (...args: never[]) => E, re?: RegExp): Promise<E> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${(err as Error).name}: ${(err as Error).message}`);
    if (re) assert.match(err.message, re);
    return err;
  }
  throw new Error(`expected ${cls.name}, got success`);
}

describe('managing authorizers', () => {
  test('Create, Describe, Update, List; the ARN is authorizer/{name}; signing is enabled by default', async () => {
    const created = await iot.send(new CreateAuthorizerCommand({ authorizerName: 'Signed', authorizerFunctionArn: FN, tokenKeyName: 'tok', tokenSigningPublicKeys: { k1: keys.publicPem } }));
    assert.equal(created.authorizerArn, `arn:aws:iot:${REGION}:${ACCOUNT}:authorizer/Signed`);
    const d = (await iot.send(new DescribeAuthorizerCommand({ authorizerName: 'Signed' }))).authorizerDescription!;
    assert.equal(d.status, 'ACTIVE');
    assert.equal(d.signingDisabled, false);
    assert.equal(d.tokenKeyName, 'tok');
    assert.deepEqual(d.tokenSigningPublicKeys, { k1: keys.publicPem });
    assert.equal(d.authorizerFunctionArn, FN);
    assert.ok(d.creationDate instanceof Date);
    await iot.send(new UpdateAuthorizerCommand({ authorizerName: 'Signed', status: 'INACTIVE', tokenKeyName: 'token2' }));
    const u = (await iot.send(new DescribeAuthorizerCommand({ authorizerName: 'Signed' }))).authorizerDescription!;
    assert.equal(u.status, 'INACTIVE');
    assert.equal(u.tokenKeyName, 'token2');
    await iot.send(new CreateAuthorizerCommand({ authorizerName: 'Open', authorizerFunctionArn: 'throwFn', signingDisabled: true }));
    const all = (await iot.send(new ListAuthorizersCommand({ ascendingOrder: true }))).authorizers!.map((a) => a.authorizerName);
    assert.deepEqual(all.filter((n) => n === 'Signed' || n === 'Open'), ['Signed', 'Open']);
    const inactive = (await iot.send(new ListAuthorizersCommand({ status: 'INACTIVE' }))).authorizers!.map((a) => a.authorizerName);
    assert.ok(inactive.includes('Signed') && !inactive.includes('Open'));
    const page = await iot.send(new ListAuthorizersCommand({ pageSize: 1, ascendingOrder: true }));
    assert.equal(page.authorizers?.length, 1);
    assert.ok(page.nextMarker !== undefined);
    const next = await iot.send(new ListAuthorizersCommand({ pageSize: 1, ascendingOrder: true, marker: page.nextMarker }));
    assert.notEqual(next.authorizers?.[0]?.authorizerName, page.authorizers?.[0]?.authorizerName);
  });

  test('validation: a duplicate name; signing enabled without tokenKeyName or keys; a key that is not RSA >= 2048 bits', async () => {
    await rejects(iot.send(new CreateAuthorizerCommand({ authorizerName: 'Open', authorizerFunctionArn: FN, signingDisabled: true })), ResourceAlreadyExistsException);
    await rejects(iot.send(new CreateAuthorizerCommand({ authorizerName: 'NoKey', authorizerFunctionArn: FN, tokenKeyName: 'tok' })), InvalidRequestException, /tokenSigningPublicKeys is required/);
    await rejects(iot.send(new CreateAuthorizerCommand({ authorizerName: 'NoTok', authorizerFunctionArn: FN, tokenSigningPublicKeys: { k: keys.publicPem } })), InvalidRequestException, /tokenKeyName is required/);
    await rejects(iot.send(new CreateAuthorizerCommand({ authorizerName: 'BadKey', authorizerFunctionArn: FN, tokenKeyName: 't', tokenSigningPublicKeys: { k: 'junk' } })), InvalidRequestException, /not a PEM/);
    await rejects(iot.send(new DescribeAuthorizerCommand({ authorizerName: 'Nope' })), ResourceNotFoundException);
  });

  test('DeleteAuthorizer refuses an ACTIVE authorizer (DeleteConflictException) and the default one; deletes an INACTIVE one', async () => {
    await iot.send(new CreateAuthorizerCommand({ authorizerName: 'Doomed', authorizerFunctionArn: FN, signingDisabled: true }));
    await rejects(iot.send(new DeleteAuthorizerCommand({ authorizerName: 'Doomed' })), DeleteConflictException, /ACTIVE/);
    await iot.send(new UpdateAuthorizerCommand({ authorizerName: 'Doomed', status: 'INACTIVE' }));
    await iot.send(new SetDefaultAuthorizerCommand({ authorizerName: 'Doomed' }));
    await rejects(iot.send(new DeleteAuthorizerCommand({ authorizerName: 'Doomed' })), DeleteConflictException, /default/);
    await iot.send(new ClearDefaultAuthorizerCommand({}));
    await iot.send(new DeleteAuthorizerCommand({ authorizerName: 'Doomed' }));
    await rejects(iot.send(new DescribeAuthorizerCommand({ authorizerName: 'Doomed' })), ResourceNotFoundException);
  });

  test('SetDefaultAuthorizer / DescribeDefaultAuthorizer / ClearDefaultAuthorizer', async () => {
    await rejects(iot.send(new DescribeDefaultAuthorizerCommand({})), ResourceNotFoundException);
    await rejects(iot.send(new SetDefaultAuthorizerCommand({ authorizerName: 'Nope' })), ResourceNotFoundException);
    const set = await iot.send(new SetDefaultAuthorizerCommand({ authorizerName: 'Open' }));
    assert.equal(set.authorizerArn, `arn:aws:iot:${REGION}:${ACCOUNT}:authorizer/Open`);
    assert.equal((await iot.send(new DescribeDefaultAuthorizerCommand({}))).authorizerDescription?.authorizerName, 'Open');
    await iot.send(new ClearDefaultAuthorizerCommand({}));
    await rejects(iot.send(new DescribeDefaultAuthorizerCommand({})), ResourceNotFoundException);
  });
});

describe('TestInvokeAuthorizer (the connect path, without a connection)', () => {
  test('a signed token: the module function answers; policy documents come back as JSON text', async () => {
    await iot.send(new CreateAuthorizerCommand({ authorizerName: 'Tester', authorizerFunctionArn: FN, tokenKeyName: 'tok', tokenSigningPublicKeys: { k1: keys.publicPem } }));
    const out = await iot.send(new TestInvokeAuthorizerCommand({ authorizerName: 'Tester', token: 'good-token', tokenSignature: keys.sign('good-token') }));
    assert.equal(out.isAuthenticated, true);
    assert.equal(out.principalId, 'Device42');
    assert.deepEqual(out.policyDocuments, [TELEMETRY_POLICY]);
    assert.equal(out.refreshAfterInSeconds, 300);
  });

  test('the token and signature may come from the contexts instead (MQTT user name query, HTTP headers)', async () => {
    const username = `u?x-amz-customauthorizer-signature=${encodeURIComponent(keys.sign('good-token'))}&tok=good-token`;
    assert.equal((await iot.send(new TestInvokeAuthorizerCommand({ authorizerName: 'Tester', mqttContext: { username, clientId: 'c1' } }))).isAuthenticated, true);
    const headers = { 'x-amz-customauthorizer-signature': keys.sign('good-token'), tok: 'good-token' };
    assert.equal((await iot.send(new TestInvokeAuthorizerCommand({ authorizerName: 'Tester', httpContext: { headers } }))).isAuthenticated, true);
  });

  test('a bad signature is InvalidRequestException and the function is not called', async () => {
    await rejects(iot.send(new TestInvokeAuthorizerCommand({ authorizerName: 'Tester', token: 'good-token', tokenSignature: keys.sign('other') })), InvalidRequestException, /does not verify/);
    await rejects(iot.send(new TestInvokeAuthorizerCommand({ authorizerName: 'Tester', token: 'good-token' })), InvalidRequestException, /signature/);
  });

  test('an MQTT password (base64 in the event) with signing disabled; isAuthenticated false comes back as such', async () => {
    await iot.send(new CreateAuthorizerCommand({ authorizerName: 'Passwords', authorizerFunctionArn: 'passwordFn', signingDisabled: true }));
    const yes = await iot.send(new TestInvokeAuthorizerCommand({ authorizerName: 'Passwords', mqttContext: { username: 'u', password: Buffer.from('letmein'), clientId: 'c' } }));
    assert.equal(yes.principalId, 'Device42');
    const no = await iot.send(new TestInvokeAuthorizerCommand({ authorizerName: 'Passwords', mqttContext: { username: 'u', password: Buffer.from('wrong'), clientId: 'c' } }));
    assert.equal(no.isAuthenticated, false);
    assert.equal(no.principalId, undefined);
  });

  test('an HTTP endpoint function receives the event; a failing function is InvalidResponseException; an unconfigured one InvalidRequestException', async () => {
    await iot.send(new CreateAuthorizerCommand({ authorizerName: 'ViaHttp', authorizerFunctionArn: 'httpFn', signingDisabled: true, tokenKeyName: 'tok' }));
    const out = await iot.send(new TestInvokeAuthorizerCommand({ authorizerName: 'ViaHttp', token: 'ok', tlsContext: { serverName: 'iot.example.com' } }));
    assert.deepEqual([out.isAuthenticated, out.principalId, out.disconnectAfterInSeconds], [true, 'Http1', 3600]);
    const event = endpoint.events.at(-1)!;
    assert.deepEqual(event.protocols, ['tls']);
    assert.deepEqual(event.protocolData, { tls: { serverName: 'iot.example.com' } });
    assert.equal(event.signatureVerified, false);
    await rejects(iot.send(new TestInvokeAuthorizerCommand({ authorizerName: 'Open' })), InvalidResponseException, /boom/);
    await iot.send(new CreateAuthorizerCommand({ authorizerName: 'Nowhere', authorizerFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:missing', signingDisabled: true }));
    await rejects(iot.send(new TestInvokeAuthorizerCommand({ authorizerName: 'Nowhere' })), InvalidRequestException, /authorizers\.functions/);
    await rejects(iot.send(new TestInvokeAuthorizerCommand({ authorizerName: 'Nope' })), ResourceNotFoundException);
  });
});
