// Every IoT data plane operation through AWS's own client, @aws-sdk/client-iot-data-plane (real
// SigV4, real serialization, its exception classes), against an in-process Thingport; MQTT
// clients watch what the HTTP calls cause.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ConflictException,
  DeleteConnectionCommand,
  DeleteThingShadowCommand,
  GatewayTimeoutException,
  GetConnectionCommand,
  GetRetainedMessageCommand,
  GetThingShadowCommand,
  InvalidRequestException,
  ListNamedShadowsForThingCommand,
  ListRetainedMessagesCommand,
  ListSubscriptionsCommand,
  PublishCommand,
  RequestEntityTooLargeException,
  ResourceNotFoundException,
  SendDirectMessageCommand,
  UpdateThingShadowCommand,
  type IoTDataPlaneClient,
} from '@aws-sdk/client-iot-data-plane';
import { connectClient, type TestClient } from '../helpers/mqtt.js';
import { startShadowServer, type ShadowServer } from '../helpers/shadow-server.js';

let server: ShadowServer;
let sdk: IoTDataPlaneClient;
let watcher: TestClient;
const json = (b: Uint8Array | undefined): Record<string, unknown> => JSON.parse(Buffer.from(b ?? new Uint8Array()).toString('utf8')) as Record<string, unknown>;

before(async () => {
  server = await startShadowServer();
  sdk = server.dataClient();
  watcher = await connectClient(server.mqttUrl, { clientId: 'watcher', protocolVersion: 5 });
});
after(async () => {
  sdk.destroy();
  await watcher.end();
  await server.close();
});

describe('shadow operations', () => {
  test('UpdateThingShadow returns the accepted document and publishes update/accepted, delta and documents on MQTT', async () => {
    const pre = '$aws/things/pump/shadow';
    await watcher.subscribe([`${pre}/update/accepted`, `${pre}/update/delta`, `${pre}/update/documents`]);
    const out = await sdk.send(new UpdateThingShadowCommand({ thingName: 'pump', payload: Buffer.from('{"state":{"desired":{"rpm":1200}},"clientToken":"h1"}') }));
    const body = json(out.payload);
    assert.deepEqual(body.state, { desired: { rpm: 1200 } });
    assert.equal(body.version, 1);
    assert.equal(body.clientToken, 'h1');
    const msgs = await watcher.waitMessages((m) => m.topic.startsWith(`${pre}/update/`), 3);
    assert.deepEqual(msgs.map((m) => m.topic), [`${pre}/update/accepted`, `${pre}/update/delta`, `${pre}/update/documents`]);
    assert.equal(msgs[0]!.payload.toString(), Buffer.from(out.payload!).toString(), 'the HTTP body is the MQTT accepted payload');
  });

  test('GetThingShadow returns the document with its delta', async () => {
    const out = await sdk.send(new GetThingShadowCommand({ thingName: 'pump' }));
    const body = json(out.payload);
    assert.deepEqual(body.state, { desired: { rpm: 1200 }, delta: { rpm: 1200 } });
    assert.equal(body.version, 1);
  });

  test('AWS: an HTTP error publishes no MQTT rejected message', async () => {
    const pre = '$aws/things/pump/shadow';
    await watcher.subscribe(`${pre}/update/rejected`);
    await assert.rejects(sdk.send(new UpdateThingShadowCommand({ thingName: 'pump', payload: Buffer.from('{"state":{"desired":{"rpm":1}},"version":99}') })), (e: unknown) => {
      assert.ok(e instanceof ConflictException);
      assert.equal(e.message, 'Version conflict');
      return true;
    });
    await assert.rejects(sdk.send(new UpdateThingShadowCommand({ thingName: 'pump', payload: Buffer.from('{"nope":1}') })), (e: unknown) => {
      assert.ok(e instanceof InvalidRequestException);
      assert.equal(e.message, 'Missing required node: state');
      return true;
    });
    await assert.rejects(
      sdk.send(new UpdateThingShadowCommand({ thingName: 'pump', payload: Buffer.from(`{"state":{"reported":{"x":"${'y'.repeat(9000)}"}}}`) })),
      RequestEntityTooLargeException,
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(watcher.matching(`${pre}/update/rejected`).length, 0);
  });

  test('named shadows: update, list (paginated), get, delete', async () => {
    for (const n of ['a-cfg', 'b-cfg', 'c-cfg']) await sdk.send(new UpdateThingShadowCommand({ thingName: 'pump', shadowName: n, payload: Buffer.from('{"state":{"reported":{"ok":true}}}') }));
    const p1 = await sdk.send(new ListNamedShadowsForThingCommand({ thingName: 'pump', pageSize: 2 }));
    assert.deepEqual(p1.results, ['a-cfg', 'b-cfg']);
    assert.ok(p1.nextToken);
    assert.equal(typeof p1.timestamp, 'number');
    const p2 = await sdk.send(new ListNamedShadowsForThingCommand({ thingName: 'pump', pageSize: 2, nextToken: p1.nextToken }));
    assert.deepEqual(p2.results, ['c-cfg']);
    assert.equal(p2.nextToken, undefined);
    const got = json((await sdk.send(new GetThingShadowCommand({ thingName: 'pump', shadowName: 'b-cfg' }))).payload);
    assert.deepEqual(got.state, { reported: { ok: true } });
    const del = json((await sdk.send(new DeleteThingShadowCommand({ thingName: 'pump', shadowName: 'b-cfg' }))).payload);
    assert.equal(del.version, 1);
    assert.deepEqual((await sdk.send(new ListNamedShadowsForThingCommand({ thingName: 'pump' }))).results, ['a-cfg', 'c-cfg']);
  });

  test('DeleteThingShadow then GetThingShadow is ResourceNotFoundException with AWS text; the version continues', async () => {
    await sdk.send(new DeleteThingShadowCommand({ thingName: 'pump' }));
    await assert.rejects(sdk.send(new GetThingShadowCommand({ thingName: 'pump' })), (e: unknown) => {
      assert.ok(e instanceof ResourceNotFoundException);
      assert.equal(e.message, "No shadow exists with name: 'pump'");
      return true;
    });
    const again = json((await sdk.send(new UpdateThingShadowCommand({ thingName: 'pump', payload: Buffer.from('{"state":{"reported":{"rpm":0}}}') }))).payload);
    assert.equal(again.version, 2);
  });
});

describe('publish and retained messages', () => {
  test('Publish delivers with qos, retain and MQTT 5 properties from x-amz-mqtt5-* headers and the query', async () => {
    await watcher.subscribe('plant/+/status', { qos: 1 });
    await sdk.send(
      new PublishCommand({
        topic: 'plant/1/status',
        qos: 1,
        retain: true,
        payload: Buffer.from('{"ok":true}'),
        contentType: 'application/json',
        responseTopic: 'plant/1/reply',
        userProperties: JSON.stringify([{ deviceName: 'alpha' }, { deviceCnt: '45' }]),
        payloadFormatIndicator: 'UTF8_DATA',
        correlationData: Buffer.from('corr-1').toString('base64'),
        messageExpiry: 3600,
      }),
    );
    const m = await watcher.waitMessage('plant/1/status');
    assert.equal(m.payload.toString(), '{"ok":true}');
    assert.equal(m.packet.qos, 1);
    const props = m.packet.properties!;
    assert.equal(props.contentType, 'application/json');
    assert.equal(props.responseTopic, 'plant/1/reply');
    assert.deepEqual({ ...props.userProperties }, { deviceName: 'alpha', deviceCnt: '45' });
    assert.equal(props.payloadFormatIndicator, true);
    assert.equal(Buffer.from(props.correlationData!).toString(), 'corr-1');
  });

  test('GetRetainedMessage and ListRetainedMessages read the broker\'s retained store', async () => {
    await sdk.send(new PublishCommand({ topic: 'plant/2/status', qos: 0, retain: true, payload: Buffer.from('two') }));
    const r = await sdk.send(new GetRetainedMessageCommand({ topic: 'plant/1/status' }));
    assert.equal(r.topic, 'plant/1/status');
    assert.equal(Buffer.from(r.payload!).toString(), '{"ok":true}');
    assert.equal(r.qos, 1);
    assert.ok(typeof r.lastModifiedTime === 'number' && r.lastModifiedTime > 1e12);
    assert.deepEqual(JSON.parse(Buffer.from(r.userProperties!).toString()), [{ deviceName: 'alpha' }, { deviceCnt: '45' }]);
    const l1 = await sdk.send(new ListRetainedMessagesCommand({ maxResults: 1 }));
    assert.deepEqual(l1.retainedTopics?.map((t) => [t.topic, t.payloadSize]), [['plant/1/status', 11]]);
    const l2 = await sdk.send(new ListRetainedMessagesCommand({ maxResults: 1, nextToken: l1.nextToken }));
    assert.deepEqual(l2.retainedTopics?.map((t) => t.topic), ['plant/2/status']);
    assert.equal(l2.nextToken, undefined);
    await assert.rejects(sdk.send(new GetRetainedMessageCommand({ topic: 'plant/9/none' })), ResourceNotFoundException);
  });
});

describe('connections', () => {
  test('GetConnection, ListSubscriptions, SendDirectMessage (with PUBACK confirmation), DeleteConnection', async () => {
    const device = await connectClient(server.mqttUrl, { clientId: 'dev-direct', protocolVersion: 5 });
    await device.subscribe(['cmd/a', 'cmd/b'], { qos: 1 });
    const c = await sdk.send(new GetConnectionCommand({ clientId: 'dev-direct' }));
    assert.equal(c.connected, true);
    assert.equal(c.clientId, 'dev-direct');
    const s = await sdk.send(new ListSubscriptionsCommand({ clientId: 'dev-direct', maxResults: 1 }));
    assert.deepEqual(s.subscriptions, [{ topicFilter: 'cmd/a', qos: 1 }]);
    const s2 = await sdk.send(new ListSubscriptionsCommand({ clientId: 'dev-direct', nextToken: s.nextToken }));
    assert.deepEqual(s2.subscriptions, [{ topicFilter: 'cmd/b', qos: 1 }]);
    const sent = await sdk.send(new SendDirectMessageCommand({ clientId: 'dev-direct', topic: 'direct/x', payload: Buffer.from('hi'), confirmation: true, timeout: 2 }));
    assert.ok(sent.traceId);
    const m = await device.waitMessage('direct/x');
    assert.equal(m.payload.toString(), 'hi');
    assert.equal(m.packet.qos, 1);
    await sdk.send(new DeleteConnectionCommand({ clientId: 'dev-direct', cleanSession: true }));
    await device.waitClose();
    await assert.rejects(sdk.send(new GetConnectionCommand({ clientId: 'dev-direct' })), ResourceNotFoundException);
    await assert.rejects(sdk.send(new SendDirectMessageCommand({ clientId: 'dev-direct', topic: 'direct/x', payload: Buffer.from('x') })), ResourceNotFoundException);
  });

  test('SendDirectMessage: no PUBACK within the timeout is GatewayTimeoutException (504)', async () => {
    // mqtt.js acknowledges QoS 1 itself; a client that never sends PUBACK is a raw socket.
    const { createConnection } = await import('node:net');
    const mqttPacket = (await import('mqtt-packet')).default;
    const sock = createConnection(Number(new URL(server.mqttUrl).port), '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(mqttPacket.generate({ cmd: 'connect', clientId: 'silent', protocolVersion: 4, clean: true, keepalive: 60 } as never));
    await new Promise((r) => sock.once('data', r));
    await assert.rejects(sdk.send(new SendDirectMessageCommand({ clientId: 'silent', topic: 'd/t', payload: Buffer.from('x'), confirmation: true, timeout: 1 })), GatewayTimeoutException);
    sock.destroy();
  });
});
