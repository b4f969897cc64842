/**
 * 09 — Limits: AWS IoT Core's defaults (payload 128 KiB, topic 256 bytes and 7 slashes with the
 * `$aws/rules/{rule}/` prefix exempt, 50 subscriptions per connection, 8 filters per SUBSCRIBE,
 * client id 128 bytes), and each limit configured. A violation gets a reason code or a
 * disconnect; the broker keeps serving.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt-packet';
import { rawPublish } from '../helpers/raw-bytes.js';
import {
  ConnectionClosedError,
  expectServerDisconnect,
  hex,
  rawConnect,
  rawConnected,
  type ProtocolVersion,
  type RawClient,
} from '../helpers/raw-client.js';
import { connectClient, uniqueTopic, type TestClient } from '../helpers/mqtt.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

/**
 * Publishes at QoS 1 and asserts the broker refuses it: MQTT 5 with a PUBACK or DISCONNECT
 * carrying one of the codes, 3.1.1 (no reason codes for PUBLISH) by closing the connection.
 */
async function expectPublishRefused(client: RawClient, topic: string, payload: string | Buffer, codes: number[]): Promise<void> {
  client.sendPacket({ cmd: 'publish', topic, payload, qos: 1, dup: false, retain: false, messageId: 101 });
  if (client.protocolVersion === 4) {
    await expectServerDisconnect(client, []);
    return;
  }
  const p = await client.nextPacket();
  assert.ok(p.cmd === 'puback' || p.cmd === 'disconnect', `expected PUBACK or DISCONNECT, got ${p.cmd}`);
  assert.ok(codes.includes(p.reasonCode ?? 0), `${p.cmd} reason ${hex(p.reasonCode ?? 0)}, expected ${codes.map(hex).join(' or ')}`);
  if (p.cmd === 'disconnect') await client.waitClosed();
}

/**
 * Subscribes to one filter and asserts it is refused with one of the codes: in the SUBACK, or by
 * DISCONNECT (MQTT 5) or closing the connection (3.1.1).
 */
async function expectSubscribeRefused(client: RawClient, filter: string, codes: number[]): Promise<void> {
  client.sendPacket({ cmd: 'subscribe', messageId: 202, subscriptions: [{ topic: filter, qos: 1 }] });
  const p = await client.nextPacket().catch((e: Error) => e);
  if (p instanceof ConnectionClosedError && client.protocolVersion === 4) return;
  if (p instanceof Error) throw p;
  if (p.cmd === 'suback') {
    const [code] = p.granted as number[];
    assert.ok(codes.includes(code), `SUBACK ${hex(code)}, expected ${codes.map(hex).join(' or ')}`);
  } else {
    assert.equal(p.cmd, 'disconnect', `unexpected ${p.cmd}`);
    assert.ok(client.protocolVersion === 5 && codes.includes(p.reasonCode ?? 0), `DISCONNECT ${hex(p.reasonCode ?? 0)}`);
    await client.waitClosed();
  }
}

/** Publishes at QoS 1 and asserts acceptance (PUBACK below 0x80) and delivery to a subscriber. */
async function expectPublishAccepted(client: RawClient, sub: TestClient, topic: string, payload: string | Buffer): Promise<void> {
  const rc = await client.publish(topic, payload, { qos: 1 });
  assert.ok(rc < 0x80, `PUBACK ${hex(rc)}`);
  const m = await sub.waitMessage((r) => r.topic === topic && r.payload.equals(Buffer.from(payload)));
  assert.equal(m.payload.length, Buffer.byteLength(payload));
}

describe('09 limits: AWS defaults', () => {
  let tp: Thingport;
  let watch: TestClient;
  before(async () => {
    tp = await startThingport();
    watch = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await watch.subscribe('#', { qos: 1 });
  });
  after(async () => {
    await watch?.end();
    await tp?.stop();
  });

  for (const v of [4, 5] as ProtocolVersion[]) {
    const name = v === 4 ? '3.1.1' : 'MQTT 5';
    test(`[AWS IoT quotas] ${name}: a 128 KiB payload is accepted; one byte more is refused (0x95 / 0x97)`, async () => {
      const topic = uniqueTopic(`payload${v}`);
      const { client } = await rawConnected(tp.mqttPort, v);
      await expectPublishAccepted(client, watch, topic, Buffer.alloc(131_072, 0x61));
      await expectPublishRefused(client, topic, Buffer.alloc(131_073, 0x62), [0x95, 0x97]);
      client.destroy();
      assert.equal(watch.matching(topic).length, 1, 'the oversized message was not delivered');
    });

    test(`[AWS IoT quotas][MQTT-4.7.3-3] ${name}: a 256-byte topic is accepted; 257 bytes is refused (0x90)`, async () => {
      const base = uniqueTopic(`len${v}`);
      const ok = base + 'x'.repeat(256 - base.length);
      const { client } = await rawConnected(tp.mqttPort, v);
      await expectPublishAccepted(client, watch, ok, 'fits');
      await expectPublishRefused(client, `${ok}y`, 'too long', [0x90]);
      client.destroy();
      assert.equal(watch.matching(`${ok}y`).length, 0);
    });

    test(`[AWS IoT quotas] ${name}: 7 slashes are accepted, 8 refused (0x90); a $aws/rules/{rule}/ prefix does not count`, async () => {
      const base = uniqueTopic(`depth${v}`); // t/depth/xxxx: 2 slashes
      const seven = `${base}/a/b/c/d/e`;
      const { client } = await rawConnected(tp.mqttPort, v);
      await expectPublishAccepted(client, watch, seven, 'deep');
      const rc = await client.publish(`$aws/rules/myRule/${seven}`, 'ingest', { qos: 1 });
      assert.ok(rc < 0x80, `Basic Ingest topic with 7 slashes after the prefix: PUBACK ${hex(rc)}`);
      await expectPublishRefused(client, `${seven}/f`, 'too deep', [0x90]);
      client.destroy();
    });

    test(`[AWS IoT quotas] ${name}: filters obey the same topic limits (257 bytes, 8 slashes refused)`, async () => {
      for (const filter of [`t/${'f'.repeat(255)}`, 'a/b/c/d/e/f/g/h/#']) {
        const { client } = await rawConnected(tp.mqttPort, v);
        await expectSubscribeRefused(client, filter, v === 5 ? [0x8f, 0x97] : [0x80]);
        client.destroy();
      }
    });
  }

  test('[AWS IoT quotas] 50 subscriptions per connection: the 51st gets 0x97; replacing does not count; unsubscribing frees a slot', async () => {
    const base = uniqueTopic('subs');
    const { client } = await rawConnected(tp.mqttPort, 5);
    for (let i = 0; i < 50; i += 5) {
      const granted = await client.subscribe(Array.from({ length: 5 }, (_, j) => ({ topic: `${base}/${i + j}`, qos: 1 as const })));
      assert.deepEqual(granted, [1, 1, 1, 1, 1]);
    }
    assert.deepEqual(await client.subscribe([{ topic: `${base}/0`, qos: 0 }]), [0], 'replacing an existing subscription is fine');
    assert.deepEqual(await client.subscribe([{ topic: `${base}/50`, qos: 1 }]), [0x97], '51st: Quota exceeded');
    await client.unsubscribe([`${base}/1`]);
    assert.deepEqual(await client.subscribe([{ topic: `${base}/50`, qos: 1 }]), [1], 'a slot freed by UNSUBSCRIBE');
    await client.ping();
    client.destroy();
    const { client: v4 } = await rawConnected(tp.mqttPort, 4);
    for (let i = 0; i < 50; i += 5) {
      await v4.subscribe(Array.from({ length: 5 }, (_, j) => ({ topic: `${base}/${i + j}`, qos: 1 as const })));
    }
    assert.deepEqual(await v4.subscribe([{ topic: `${base}/50`, qos: 1 }]), [0x80], '3.1.1: Failure');
    v4.destroy();
  });

  test('[AWS IoT quotas] 8 filters per SUBSCRIBE: a 9th filter is refused', async () => {
    const base = uniqueTopic('perpacket');
    const { client } = await rawConnected(tp.mqttPort, 5);
    const filters = Array.from({ length: 9 }, (_, i) => ({ topic: `${base}/${i}`, qos: 1 as const }));
    client.sendPacket({ cmd: 'subscribe', messageId: 9, subscriptions: filters });
    const p = await client.nextPacket();
    if (p.cmd === 'suback') {
      const granted = p.granted as number[];
      assert.equal(granted.length, 9, '[MQTT-3.8.4-6] one code per filter');
      assert.ok(granted[8] >= 0x80, `9th filter granted ${hex(granted[8])}`);
    } else {
      assert.equal(p.cmd, 'disconnect');
      assert.ok((p.reasonCode ?? 0) >= 0x80);
    }
    client.destroy();
  });
});

describe('09 limits: configured', () => {
  let tp: Thingport;
  let watch: TestClient;
  before(async () => {
    tp = await startThingport({
      args: [
        '--mqtt.max-payload-bytes', '100',
        '--mqtt.max-packet-bytes', '1000',
        '--mqtt.max-topic-bytes', '40',
        '--mqtt.max-topic-slashes', '3',
        '--mqtt.max-subscriptions-per-connection', '2',
        '--mqtt.max-filters-per-subscribe', '3',
        '--mqtt.max-client-id-bytes', '30',
        '--mqtt.topic-alias-maximum', '2',
        '--mqtt.receive-maximum', '3',
        '--mqtt.max-inflight', '2',
      ],
    });
    watch = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await watch.subscribe('#', { qos: 1 });
  });
  after(async () => {
    await watch?.end();
    await tp?.stop();
  });

  test('[Thingport limits] CONNACK advertises the configured Receive Maximum, Topic Alias Maximum and Maximum Packet Size', async () => {
    const { client, connack } = await rawConnected(tp.mqttPort, 5);
    assert.equal(connack.properties?.receiveMaximum, 3);
    assert.equal(connack.properties?.topicAliasMaximum, 2);
    assert.equal(connack.properties?.maximumPacketSize, 1000);
    client.destroy();
  });

  test('[Thingport limits] maxPayloadBytes 100: 100 bytes accepted, 101 refused', async () => {
    const topic = uniqueTopic('p');
    const { client } = await rawConnected(tp.mqttPort, 5);
    await expectPublishAccepted(client, watch, topic, 'a'.repeat(100));
    await expectPublishRefused(client, topic, 'b'.repeat(101), [0x95, 0x97]);
    client.destroy();
  });

  test('[MQTT5 3.2.2.3.6] maxPacketBytes 1000: a larger packet gets DISCONNECT 0x95 (Packet too large)', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5);
    // A SUBSCRIBE over 1000 bytes (a user property pads it) whose filters are within every other
    // limit: only the packet size is wrong.
    const subscriptions = Array.from({ length: 3 }, (_, i) => ({ topic: `s/${i}/${'z'.repeat(30)}`, qos: 1 as const }));
    client.sendPacket({ cmd: 'subscribe', messageId: 1, subscriptions, properties: { userProperties: { pad: 'p'.repeat(1_000) } } });
    await expectServerDisconnect(client, 0x95);
  });

  test('[Thingport limits] maxTopicBytes 40 and maxTopicSlashes 3 apply to topic names', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5);
    await expectPublishAccepted(client, watch, 'a/b/c/d', 'ok');
    await expectPublishAccepted(client, watch, 'x'.repeat(40), 'ok');
    await expectPublishRefused(client, 'a/b/c/d/e', 'deep', [0x90]);
    const { client: c2 } = await rawConnected(tp.mqttPort, 5);
    await expectPublishRefused(c2, 'x'.repeat(41), 'long', [0x90]);
    client.destroy();
    c2.destroy();
  });

  test('[Thingport limits] maxSubscriptionsPerConnection 2 and maxFiltersPerSubscribe 3', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5);
    assert.deepEqual(await client.subscribe([{ topic: 'q/1', qos: 1 }, { topic: 'q/2', qos: 1 }]), [1, 1]);
    assert.deepEqual(await client.subscribe([{ topic: 'q/3', qos: 1 }]), [0x97]);
    client.destroy();
    const { client: c2 } = await rawConnected(tp.mqttPort, 5);
    c2.sendPacket({ cmd: 'subscribe', messageId: 2, subscriptions: ['r/1', 'r/2', 'r/3', 'r/4'].map((topic) => ({ topic, qos: 1 as const })) });
    const p = await c2.nextPacket();
    if (p.cmd === 'suback') assert.ok((p.granted as number[]).some((g) => g >= 0x80), `granted ${JSON.stringify(p.granted)}`);
    else assert.equal(p.cmd, 'disconnect');
    c2.destroy();
  });

  test('[MQTT-3.1.3-8][Thingport limits] maxClientIdBytes 30: 30 bytes accepted, 31 refused with 0x85 / 0x02', async () => {
    (await rawConnected(tp.mqttPort, 5, { clientId: 'c'.repeat(30) })).client.destroy();
    const c5 = await rawConnect(tp.mqttPort, { protocolVersion: 5 });
    assert.equal((await c5.connect({ clientId: 'c'.repeat(31) })).reasonCode, 0x85);
    await c5.waitClosed();
    const c4 = await rawConnect(tp.mqttPort, { protocolVersion: 4 });
    assert.equal((await c4.connect({ clientId: 'd'.repeat(31) })).returnCode, 0x02);
    await c4.waitClosed();
  });

  test('[MQTT-3.3.2-12][MQTT-3.2.2-17] topicAliasMaximum 2: alias 2 accepted, alias 3 gets DISCONNECT 0x94', async () => {
    const topic = uniqueTopic('ta');
    const { client } = await rawConnected(tp.mqttPort, 5);
    client.send(rawPublish(topic, 'with alias 2', { protocolVersion: 5, properties: [0x23, 0, 2] }));
    await watch.waitMessage(topic);
    client.send(rawPublish(topic, 'alias 3', { protocolVersion: 5, properties: [0x23, 0, 3] }));
    await expectServerDisconnect(client, 0x94);
  });

  test('[MQTT-3.3.4-7][MQTT5 3.3.4] receiveMaximum 3: a 4th unfinished QoS 2 PUBLISH gets DISCONNECT 0x93', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5);
    for (let id = 1; id <= 3; id++) {
      client.sendPacket({ cmd: 'publish', topic: uniqueTopic('rm'), payload: 'x', qos: 2, dup: false, retain: false, messageId: id });
      await client.takeAck('pubrec', id);
    }
    client.sendPacket({ cmd: 'publish', topic: uniqueTopic('rm'), payload: 'x', qos: 2, dup: false, retain: false, messageId: 4 });
    await expectServerDisconnect(client, 0x93);
  });

  test('[MQTT-3.3.4-7] receiveMaximum 3: completed QoS 2 flows free the window (no disconnect)', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5);
    for (let i = 0; i < 6; i++) assert.ok((await client.publish(uniqueTopic('rmok'), 'x', { qos: 2 })) < 0x80);
    await client.ping();
    client.destroy();
  });

  test('[Thingport limits] maxInflight 2: at most 2 unacknowledged deliveries even when the client allows more', async () => {
    const topic = uniqueTopic('inflight');
    const { client } = await rawConnected(tp.mqttPort, 5, { properties: { receiveMaximum: 50 } });
    await client.subscribe([{ topic, qos: 1 }]);
    const pub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    for (let i = 0; i < 4; i++) await pub.publish(topic, String(i), { qos: 1 });
    const firstTwo: IPublishPacket[] = await client.publishes(2);
    await client.ping();
    assert.deepEqual(client.pending(), [], 'no third delivery while two are unacknowledged');
    for (const p of firstTwo) await client.ack(p);
    const rest = await client.publishes(2);
    assert.deepEqual([...firstTwo, ...rest].map((p) => p.payload.toString()), ['0', '1', '2', '3']);
    client.destroy();
    await pub.end();
  });
});

describe('09 limits: keep-alive maximum', () => {
  let tp: Thingport;
  before(async () => {
    tp = await startThingport({ args: ['--mqtt.max-keep-alive-seconds', '1'] });
  });
  after(async () => {
    await tp?.stop();
  });

  test('[MQTT-3.2.2-21][MQTT-3.1.2-22] maxKeepAliveSeconds 1: a client asking 60 s is told 1 s and closed after 1.5 s of silence', async () => {
    const { client, connack } = await rawConnected(tp.mqttPort, 5, { keepalive: 60 });
    assert.equal(connack.properties?.serverKeepAlive, 1);
    const t0 = Date.now();
    await client.waitClosed(5_000);
    assert.ok(Date.now() - t0 >= 1_000, 'not before the keep-alive period');
  });
});

describe('09 limits: features turned off', () => {
  let tp: Thingport;
  before(async () => {
    tp = await startThingport({
      args: ['--mqtt.retain-available', 'false', '--mqtt.wildcard-subscriptions', 'false', '--mqtt.shared-subscriptions', 'false'],
    });
  });
  after(async () => {
    await tp?.stop();
  });

  test('[MQTT5 3.2.2.3.5][MQTT5 3.2.2.3.11][MQTT5 3.2.2.3.13] CONNACK says Retain / Wildcard / Shared Subscription Available 0', async () => {
    const { client, connack } = await rawConnected(tp.mqttPort, 5);
    assert.equal(connack.properties?.retainAvailable, false);
    assert.equal(connack.properties?.wildcardSubscriptionAvailable, false);
    assert.equal(connack.properties?.sharedSubscriptionAvailable, false);
    client.destroy();
  });

  test('[MQTT5 3.3.1.3][MQTT-3.2.2-13] retain unavailable: a retained PUBLISH gets DISCONNECT 0x9A; a will with retain gets CONNACK 0x9A', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5);
    client.sendPacket({ cmd: 'publish', topic: uniqueTopic('r'), payload: 'x', qos: 0, dup: false, retain: true });
    await expectServerDisconnect(client, 0x9a);
    const c = await rawConnect(tp.mqttPort, { protocolVersion: 5 });
    const ack = await c.connect({ clientId: 'willretain', will: { topic: 'w', payload: Buffer.from('w'), qos: 0, retain: true } });
    assert.equal(ack.reasonCode, 0x9a);
    await c.waitClosed();
  });

  test('[MQTT5 3.2.2.3.11][MQTT5 3.2.2.3.13] wildcard and shared subscriptions unavailable: refused with 0xA2 / 0x9E; plain filters work', async () => {
    for (const [filter, code] of [
      ['a/+', 0xa2],
      ['a/#', 0xa2],
      ['$share/g/a', 0x9e],
    ] as const) {
      const { client } = await rawConnected(tp.mqttPort, 5);
      await expectSubscribeRefused(client, filter, [code]);
      client.destroy();
    }
    const { client } = await rawConnected(tp.mqttPort, 5);
    assert.deepEqual(await client.subscribe([{ topic: 'a/b', qos: 1 }]), [1]);
    client.destroy();
  });
});
