// Custom authorizers end to end: a real Broker with identity's hooks on TCP and WebSocket
// listeners, mqtt.js clients, authorizer functions as local modules (worker threads) and as an
// HTTP endpoint, and the real policy engine enforcing the documents the functions return.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { type Broker, attachWebSocket, listenMqtt, type Listener } from '../broker/index.js';
import { ACCOUNT, REGION, codeOf, open, publish, signingKeys, startFunctionEndpoint, subscribe, writeFunctionModules } from './authorizers-testkit.js';
import { tempDataDir } from './certificates-testkit.js';
import { createIdentityBroker } from './broker-testkit.js';
import { type CustomAuthContext, type Identity } from './index.js';

const LAMBDA = (name: string): string => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
let dir: Awaited<ReturnType<typeof tempDataDir>>;
let moduleDir: string;
let broker: Broker;
let tcp: Listener;
let http: Server;
let identity: Identity;
let endpoint: Awaited<ReturnType<typeof startFunctionEndpoint>>;
const keys = signingKeys();
const clients: MqttClient[] = [];
let mqttUrl: string;
let wsUrl: string;

before(async () => {
  dir = await tempDataDir();
  moduleDir = mkdtempSync(join(tmpdir(), 'thingport-authorizers-'));
  const modules = writeFunctionModules(moduleDir);
  endpoint = await startFunctionEndpoint((event) =>
    event.token === 'signed-device' ? { isAuthenticated: true, principalId: 'SignedOne', policyDocuments: [JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] })] } : { isAuthenticated: false },
  );
  ({ broker, identity } = await createIdentityBroker(dir.dataDir, {
    region: REGION,
    accountId: ACCOUNT,
    authorizers: {
      functions: { passwordFn: { module: modules.password }, throwFn: { module: modules.throws }, loopFn: { module: modules.loops }, invalidFn: { module: modules.invalid }, [LAMBDA('signedFn')]: { url: endpoint.url } },
      timeoutMs: 500,
      minTtlSeconds: 1, // lets the password function end a session after 1 s
    },
  }));
  tcp = await listenMqtt(broker, '127.0.0.1', 0);
  http = createServer();
  attachWebSocket(broker, http, '/mqtt', false);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  mqttUrl = `mqtt://127.0.0.1:${tcp.port}`;
  wsUrl = `ws://127.0.0.1:${(http.address() as { port: number }).port}/mqtt`;

  const a = identity.authorizers;
  a.create({ authorizerName: 'PasswordAuth', authorizerFunctionArn: LAMBDA('passwordFn'), signingDisabled: true });
  a.create({ authorizerName: 'ThrowingAuth', authorizerFunctionArn: 'throwFn', signingDisabled: true });
  a.create({ authorizerName: 'LoopingAuth', authorizerFunctionArn: 'loopFn', signingDisabled: true });
  a.create({ authorizerName: 'InvalidAuth', authorizerFunctionArn: 'invalidFn', signingDisabled: true });
  a.create({ authorizerName: 'UnmappedAuth', authorizerFunctionArn: LAMBDA('nowhere'), signingDisabled: true });
  a.create({ authorizerName: 'SignedAuth', authorizerFunctionArn: LAMBDA('signedFn'), tokenKeyName: 'deviceToken', tokenSigningPublicKeys: { k1: keys.publicPem } });
  a.create({ authorizerName: 'SleepingAuth', authorizerFunctionArn: 'passwordFn', signingDisabled: true, status: 'INACTIVE' });
});

after(async () => {
  for (const c of clients) c.end(true);
  await tcp?.close();
  await broker?.close();
  await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
  await endpoint?.close();
  identity?.close();
  dir?.cleanup();
  rmSync(moduleDir, { recursive: true, force: true });
});

const named = (authorizer: string, extra = ''): string => `device?x-amz-customauthorizer-name=${authorizer}${extra}`;

describe('a local-module authorizer (worker thread)', () => {
  test('the right password connects; principal = principalId; the returned policy decides publish and subscribe', async () => {
    const r = await open(mqttUrl, { clientId: 'meter-1', username: named('PasswordAuth'), password: Buffer.from('letmein') }, clients);
    assert.ok(r.ok, r.ok ? '' : r.message);
    const info = broker.describeClient('meter-1')?.info;
    assert.equal(info?.principal, 'Device42');
    assert.equal((info?.authContext as CustomAuthContext).authorizerName, 'PasswordAuth');
    assert.equal(await publish(r.client, 'telemetry/meter-1', 'mine'), 0);
    assert.equal(await publish(r.client, 'telemetry/meter-2', 'not mine'), 0x87);
    assert.equal(await subscribe(r.client, 'telemetry/meter-1'), 1);
    assert.equal(await subscribe(r.client, 'telemetry/#'), 0x87);
  });

  test('isAuthenticated false is CONNACK 0x87 (MQTT 3.1.1: return code 5)', async () => {
    assert.equal(codeOf(await open(mqttUrl, { clientId: 'meter-x', username: named('PasswordAuth'), password: Buffer.from('wrong') }, clients)), 0x87);
    assert.equal(codeOf(await open(mqttUrl, { protocolVersion: 4, clientId: 'meter-y', username: named('PasswordAuth'), password: Buffer.from('wrong') }, clients)), 5);
  });

  test('the returned policy must allow iot:Connect for this client id (client/${iot:ClientId} covers any id; a deny would be 0x87)', async () => {
    const r = await open(mqttUrl, { clientId: 'other-name', username: named('PasswordAuth'), password: Buffer.from('letmein') }, clients);
    assert.ok(r.ok);
    assert.equal(await publish(r.client, 'telemetry/meter-1', 'policy variables resolve per connection'), 0x87);
  });

  test('a throwing function, an invalid answer and an unconfigured function are 0x87', async () => {
    assert.equal(codeOf(await open(mqttUrl, { clientId: 't1', username: named('ThrowingAuth') }, clients)), 0x87);
    assert.equal(codeOf(await open(mqttUrl, { clientId: 't2', username: named('InvalidAuth') }, clients)), 0x87);
    assert.equal(codeOf(await open(mqttUrl, { clientId: 't3', username: named('UnmappedAuth') }, clients)), 0x87);
  });

  test('a function that never returns is stopped at the timeout (0x87) without blocking the broker meanwhile', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const started = Date.now();
    const r = await open(mqttUrl, { clientId: 'spinner', username: named('LoopingAuth') }, clients);
    clearInterval(timer);
    assert.equal(codeOf(r), 0x87);
    assert.ok(Date.now() - started >= 450, 'refused only once the 500 ms timeout passed');
    assert.ok(ticks >= 5, `the event loop kept running (${ticks} ticks)`);
    // The module's worker was replaced: the next call is bounded again, and other functions still answer.
    assert.equal(codeOf(await open(mqttUrl, { clientId: 'spinner', username: named('LoopingAuth') }, clients)), 0x87);
    assert.equal(codeOf(await open(mqttUrl, { clientId: 'meter-3', username: named('PasswordAuth'), password: Buffer.from('letmein') }, clients)), 0);
  });

  test('an unknown or INACTIVE authorizer is 0x87', async () => {
    assert.equal(codeOf(await open(mqttUrl, { clientId: 'u1', username: named('NoSuchAuth'), password: Buffer.from('letmein') }, clients)), 0x87);
    assert.equal(codeOf(await open(mqttUrl, { clientId: 'u2', username: named('SleepingAuth'), password: Buffer.from('letmein') }, clients)), 0x87);
  });

  test('disconnectAfterInSeconds ends the connection when it runs out', async () => {
    const r = await open(mqttUrl, { clientId: 'short-1', username: named('PasswordAuth'), password: Buffer.from('letmein') }, clients);
    assert.ok(r.ok);
    const ctx = broker.describeClient('short-1')?.info?.authContext as CustomAuthContext;
    assert.ok(ctx.disconnectAt !== null && ctx.disconnectAt > Date.now() - 1_000);
    await new Promise<void>((resolve) => r.client.once('close', () => resolve()));
    assert.equal(broker.describeClient('short-1')?.connected ?? false, false);
  });
});

describe('token signing (an HTTP endpoint function)', () => {
  test('a token signed with the authorizer key (user name query) reaches the function with signatureVerified true', async () => {
    const sig = encodeURIComponent(keys.sign('signed-device'));
    const before = endpoint.events.length;
    const r = await open(mqttUrl, { clientId: 'signed-1', username: named('SignedAuth', `&x-amz-customauthorizer-signature=${sig}&deviceToken=signed-device`) }, clients);
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.equal(broker.describeClient('signed-1')?.info?.principal, 'SignedOne');
    const event = endpoint.events[before]!;
    assert.equal(event.token, 'signed-device');
    assert.equal(event.signatureVerified, true);
    assert.deepEqual(event.protocols, ['mqtt']);
    assert.equal(event.protocolData.mqtt?.clientId, 'signed-1');
    assert.match(event.connectionMetadata.id, /^[0-9a-f-]{36}$/);
  });

  test('a bad or missing signature is 0x86 and the function is never called', async () => {
    const before = endpoint.events.length;
    const forged = encodeURIComponent(keys.sign('another-token'));
    assert.equal(codeOf(await open(mqttUrl, { clientId: 's2', username: named('SignedAuth', `&x-amz-customauthorizer-signature=${forged}&deviceToken=signed-device`) }, clients)), 0x86);
    assert.equal(codeOf(await open(mqttUrl, { clientId: 's3', username: named('SignedAuth', '&deviceToken=signed-device') }, clients)), 0x86);
    assert.equal(codeOf(await open(mqttUrl, { protocolVersion: 4, clientId: 's4', username: named('SignedAuth', '&deviceToken=signed-device') }, clients)), 4);
    assert.equal(endpoint.events.length, before);
  });

  test('MQTT over WebSocket: authorizer name, token and signature as upgrade headers; the function sees the http headers', async () => {
    const before = endpoint.events.length;
    const headers = { 'x-amz-customauthorizer-name': 'SignedAuth', 'x-amz-customauthorizer-signature': keys.sign('signed-device'), deviceToken: 'signed-device' };
    const r = await open(wsUrl, { clientId: 'ws-1', wsOptions: { headers } }, clients);
    assert.ok(r.ok, r.ok ? '' : r.message);
    const event = endpoint.events[before]!;
    assert.deepEqual(event.protocols, ['http', 'mqtt']);
    assert.equal(event.protocolData.http?.headers['devicetoken'], 'signed-device');
    assert.equal(event.protocolData.http?.headers['x-amz-customauthorizer-name'], 'SignedAuth');
  });
});

describe('the default authorizer', () => {
  test('a client without a certificate that names no authorizer goes to the default one once set (and ACTIVE)', async () => {
    const opts = { username: 'plain-user', password: Buffer.from('letmein') };
    assert.equal(codeOf(await open(mqttUrl, { clientId: 'd1', ...opts }, clients)), 0x87); // no default yet, anonymous not admitted
    identity.authorizers.setDefault('PasswordAuth');
    try {
      const r = await open(mqttUrl, { clientId: 'd2', ...opts }, clients);
      assert.ok(r.ok, r.ok ? '' : r.message);
      assert.equal(broker.describeClient('d2')?.info?.principal, 'Device42');
      assert.equal(codeOf(await open(mqttUrl, { clientId: 'd3', username: 'plain-user', password: Buffer.from('nope') }, clients)), 0x87);
    } finally {
      identity.authorizers.clearDefault();
    }
  });
});
