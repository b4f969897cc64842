/**
 * 02 — SUBSCRIBE / UNSUBSCRIBE: acknowledgements, topic filter matching with `+` and `#`,
 * `$`-topics, replacement of an existing subscription, ordering.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rawConnected, randomClientId } from '../helpers/raw-client.js';
import { connectClient, uniqueTopic, type TestClient } from '../helpers/mqtt.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

describe('02 subscribe', () => {
  let tp: Thingport;
  let pub: TestClient;
  before(async () => {
    tp = await startThingport();
    pub = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('pub02') });
  });
  after(async () => {
    await pub?.end();
    await tp?.stop();
  });

  test('[MQTT-3.8.4-1][MQTT-3.8.4-2][MQTT-3.8.4-6][MQTT-3.9.3-1] SUBACK: same packet id, one code per filter in order, granted QoS as requested', async () => {
    for (const v of [4, 5] as const) {
      const { client } = await rawConnected(tp.mqttPort, v);
      const granted = await client.subscribe(
        [
          { topic: uniqueTopic('q2'), qos: 2 },
          { topic: uniqueTopic('q0'), qos: 0 },
          { topic: uniqueTopic('q1'), qos: 1 },
        ],
        { messageId: 4242 },
      );
      assert.deepEqual(granted, [2, 0, 1], `MQTT ${v}`);
      client.destroy();
    }
  });

  test('[MQTT-4.7.1-2] "+" matches exactly one level, including an empty one, at any position', async () => {
    const base = uniqueTopic('plus');
    const sub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    const rest = base.split('/').slice(1).join('/');
    await sub.subscribe([`${base}/+/c`, `+/${rest}/x/+`]);
    const topics = [`${base}/b/c`, `${base}//c`, `${base}/b/c/d`, `${base}/c`, `${base}/x/y`, `${base}/x/y/z`, `${base}/x/`];
    for (const t of topics) await pub.publish(t, t, { qos: 1 });
    await pub.publish(`${base}/end/c`, 'end', { qos: 1 });
    await sub.waitMessage(`${base}/end/c`);
    assert.deepEqual(
      sub.messages.map((m) => m.topic),
      [`${base}/b/c`, `${base}//c`, `${base}/x/y`, `${base}/x/`, `${base}/end/c`],
    );
    await sub.end();
  });

  test('[MQTT-4.7.1-1] "#" matches the parent level and every level below it', async () => {
    const base = uniqueTopic('hash');
    const sub = await connectClient(tp.mqttPort, { protocolVersion: 4 });
    await sub.subscribe(`${base}/sport/#`);
    for (const t of [`${base}/sport`, `${base}/sport/tennis`, `${base}/sport/tennis/player1/ranking`, `${base}/sports`, `${base}/other`]) {
      await pub.publish(t, 'x', { qos: 1 });
    }
    await pub.publish(`${base}/sport/end`, 'end', { qos: 1 });
    await sub.waitMessage(`${base}/sport/end`);
    assert.deepEqual(
      sub.messages.map((m) => m.topic),
      [`${base}/sport`, `${base}/sport/tennis`, `${base}/sport/tennis/player1/ranking`, `${base}/sport/end`],
    );
    await sub.end();
  });

  test('[MQTT-4.7.2-1] "#" and "+/..." never match $-topics; an explicit $aws/events filter does', async () => {
    const wild = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await wild.subscribe(['#', '+/events/#', '+/+/presence/connected/+']);
    const explicit = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await explicit.subscribe('$aws/events/presence/connected/+');
    const clientId = randomClientId('dollar');
    const other = await connectClient(tp.mqttPort, { protocolVersion: 4, clientId });
    const event = await explicit.waitMessage(`$aws/events/presence/connected/${clientId}`);
    assert.equal(JSON.parse(event.payload.toString()).clientId, clientId);
    // A marker through "#" after the event: the wildcard subscriber has seen everything it would get.
    const marker = uniqueTopic('marker');
    await pub.publish(marker, 'm', { qos: 1 });
    await wild.waitMessage(marker);
    const dollar = wild.messages.filter((m) => m.topic.startsWith('$'));
    assert.deepEqual(dollar.map((m) => m.topic), [], 'wildcard filters must not match $-topics');
    await other.end();
    await wild.end();
    await explicit.end();
  });

  test('[MQTT-4.7.3-4] matching is exact: case-sensitive, no normalization, spaces and UTF-8 are ordinary characters', async () => {
    const base = uniqueTopic('exact');
    const sub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await sub.subscribe([`${base}/Room 1/temp`, `${base}/café`]);
    // "café" precomposed (U+00E9) vs decomposed (e + U+0301): different topics.
    const decomposed = `${base}/cafe\u0301`;
    for (const t of [`${base}/room 1/temp`, `${base}/Room 1/temp`, `${base}/Room 1/temp/`, decomposed, `${base}/café`]) {
      await pub.publish(t, 'x', { qos: 1 });
    }
    await pub.publish(`${base}/café`, 'end', { qos: 1 });
    await sub.waitMessages(`${base}/café`, 2);
    assert.deepEqual(
      sub.messages.map((m) => m.topic),
      [`${base}/Room 1/temp`, `${base}/café`, `${base}/café`],
    );
    await sub.end();
  });

  test('[MQTT-3.8.4-3] subscribing again to the same filter replaces the subscription: one copy, at the new QoS', async () => {
    const topic = uniqueTopic('replace');
    const { client } = await rawConnected(tp.mqttPort, 5);
    assert.deepEqual(await client.subscribe([{ topic, qos: 2 }]), [2]);
    assert.deepEqual(await client.subscribe([{ topic, qos: 0 }]), [0]);
    await pub.publish(topic, 'once', { qos: 2 });
    const p = await client.expect('publish');
    assert.equal(p.qos, 0, 'the replacing subscription\'s QoS applies');
    await client.ping();
    assert.deepEqual(client.pending(), [], 'exactly one copy');
    client.destroy();
  });

  test('[MQTT-3.8.4-5] several filters in one SUBSCRIBE act as several subscriptions', async () => {
    const a = uniqueTopic('multi-a');
    const b = uniqueTopic('multi-b');
    const sub = await connectClient(tp.mqttPort, { protocolVersion: 4 });
    const granted = await sub.subscribe([a, b], { qos: 1 });
    assert.deepEqual(granted.map((g) => g.qos), [1, 1]);
    await pub.publish(a, 'A', { qos: 1 });
    await pub.publish(b, 'B', { qos: 1 });
    await sub.waitMessage(a);
    await sub.waitMessage(b);
    await sub.end();
  });

  test('[MQTT-3.10.4-1][MQTT-3.10.4-4][MQTT-3.10.4-5] UNSUBSCRIBE: exact filter removed, UNSUBACK with the same id; v5 reason 0x00 / 0x11', async () => {
    const base = uniqueTopic('unsub');
    const { client } = await rawConnected(tp.mqttPort, 5);
    await client.subscribe([
      { topic: `${base}/+`, qos: 1 },
      { topic: `${base}/keep`, qos: 1 },
    ]);
    // "base/x" is not a held filter: it does not remove "base/+" [MQTT-3.10.4-1].
    const codes = await client.unsubscribe([`${base}/+`, `${base}/x`], 777);
    assert.deepEqual(codes, [0x00, 0x11], 'Success, No subscription existed');
    await pub.publish(`${base}/gone`, 'no', { qos: 1 });
    await pub.publish(`${base}/keep`, 'yes', { qos: 1 });
    const p = await client.expect('publish');
    assert.equal(p.topic, `${base}/keep`, 'the removed subscription delivers nothing');
    await client.ack(p);
    client.destroy();
  });

  test('[MQTT-3.10.4-5 (v3.1.1)] UNSUBSCRIBE of a filter never subscribed still gets UNSUBACK', async () => {
    const { client } = await rawConnected(tp.mqttPort, 4);
    await client.unsubscribe([uniqueTopic('never')], 31337);
    await client.ping();
    client.destroy();
  });

  test('[MQTT-4.6.0-5][MQTT-4.6.0-6] messages from one publisher on one topic arrive in order', async () => {
    const topic = uniqueTopic('order');
    const sub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await sub.subscribe(topic, { qos: 1 });
    const n = 50;
    await Promise.all(Array.from({ length: n }, (_, i) => pub.publish(topic, String(i), { qos: 1 })));
    const got = await sub.waitMessages(topic, n);
    assert.deepEqual(got.map((m) => Number(m.payload.toString())), Array.from({ length: n }, (_, i) => i));
    await sub.end();
  });

  test('[MQTT-3.3.2-3] the topic name delivered is the published topic, not the subscription filter', async () => {
    const base = uniqueTopic('name');
    const sub = await connectClient(tp.mqttPort, { protocolVersion: 4 });
    await sub.subscribe(`${base}/#`);
    await pub.publish(`${base}/a/b`, 'x', { qos: 1 });
    const m = await sub.waitMessage(() => true);
    assert.equal(m.topic, `${base}/a/b`);
    await sub.end();
  });
});
