/**
 * 04 — Retained messages: set, replace, clear by an empty payload; Retain Handling 0/1/2 on
 * subscribe; Retain As Published for live deliveries.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt-packet';
import { rawConnected, randomClientId, type RawClient } from '../helpers/raw-client.js';
import { connectClient, uniqueTopic, type TestClient } from '../helpers/mqtt.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

describe('04 retain', () => {
  let tp: Thingport;
  let pub: TestClient;
  before(async () => {
    tp = await startThingport();
    pub = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('pub04') });
  });
  after(async () => {
    await pub?.end();
    await tp?.stop();
  });

  /** Publishes a non-retained marker and returns every PUBLISH the subscriber got up to and including it. */
  async function untilMarker(sub: RawClient, topic: string): Promise<IPublishPacket[]> {
    await pub.publish(topic, '__marker__', { qos: 1 });
    const got: IPublishPacket[] = [];
    for (;;) {
      const p = await sub.expect('publish');
      await sub.ack(p);
      got.push(p);
      if (p.payload.toString() === '__marker__') return got;
    }
  }

  test('[MQTT-3.3.1-5][MQTT-3.3.1-8 (v3.1.1)] a retained message reaches a later subscriber with RETAIN 1 (3.1.1 and 5)', async () => {
    const topic = uniqueTopic('set');
    await pub.publish(topic, 'kept', { qos: 1, retain: true });
    for (const v of [4, 5] as const) {
      const { client } = await rawConnected(tp.mqttPort, v);
      // Retain As Published 0: still RETAIN 1, because this copy is sent for the new subscription.
      await client.subscribe([{ topic, qos: 1, rap: false }]);
      const p = await client.expect('publish');
      assert.equal(p.payload.toString(), 'kept');
      assert.equal(p.retain, true, `MQTT ${v}: RETAIN 1 on a message sent because of a new subscription`);
      await client.ack(p);
      client.destroy();
    }
  });

  test('[MQTT-3.3.1-5] a new retained message replaces the previous one', async () => {
    const topic = uniqueTopic('replace');
    await pub.publish(topic, 'first', { qos: 1, retain: true });
    await pub.publish(topic, 'second', { qos: 1, retain: true });
    const { client } = await rawConnected(tp.mqttPort, 5);
    await client.subscribe([{ topic, qos: 1 }]);
    const got = await untilMarker(client, topic);
    assert.deepEqual(got.map((p) => p.payload.toString()), ['second', '__marker__']);
    client.destroy();
  });

  test('[MQTT-3.3.1-6][MQTT-3.3.1-7] an empty retained payload clears the topic, and is still delivered to current subscribers', async () => {
    const topic = uniqueTopic('clear');
    await pub.publish(topic, 'soon gone', { qos: 1, retain: true });
    const { client: current } = await rawConnected(tp.mqttPort, 4);
    await current.subscribe([{ topic, qos: 1 }]);
    const retained = await current.expect('publish');
    assert.equal(retained.payload.toString(), 'soon gone');
    await current.ack(retained);
    await pub.publish(topic, '', { qos: 1, retain: true });
    const empty = await current.expect('publish');
    assert.equal(empty.payload.length, 0, 'the empty message is processed normally');
    await current.ack(empty);
    const { client: later } = await rawConnected(tp.mqttPort, 5);
    await later.subscribe([{ topic, qos: 1 }]);
    const got = await untilMarker(later, topic);
    assert.deepEqual(got.map((p) => p.payload.toString()), ['__marker__'], 'no retained message after clearing');
    current.destroy();
    later.destroy();
  });

  test('[MQTT-3.3.1-8] a PUBLISH with RETAIN 0 neither stores nor replaces the retained message', async () => {
    const topic = uniqueTopic('noretain');
    await pub.publish(topic, 'retained', { qos: 1, retain: true });
    await pub.publish(topic, 'live only', { qos: 1, retain: false });
    const { client } = await rawConnected(tp.mqttPort, 5);
    await client.subscribe([{ topic, qos: 1 }]);
    const got = await untilMarker(client, topic);
    assert.deepEqual(got.map((p) => p.payload.toString()), ['retained', '__marker__']);
    client.destroy();
  });

  test('[MQTT-3.3.1-9 (v3.1.1)][MQTT-3.3.1-12][MQTT-3.3.1-13] live deliveries: RETAIN 0 on 3.1.1 and Retain As Published 0; as published with RAP 1', async () => {
    const topic = uniqueTopic('rap');
    const { client: v4 } = await rawConnected(tp.mqttPort, 4);
    const { client: rap0 } = await rawConnected(tp.mqttPort, 5);
    const { client: rap1 } = await rawConnected(tp.mqttPort, 5);
    await v4.subscribe([{ topic, qos: 1 }]);
    await rap0.subscribe([{ topic, qos: 1, rap: false }]);
    await rap1.subscribe([{ topic, qos: 1, rap: true }]);
    await pub.publish(topic, 'r', { qos: 1, retain: true });
    await pub.publish(topic, 'n', { qos: 1, retain: false });
    for (const [name, c, flags] of [
      ['3.1.1', v4, [false, false]],
      ['RAP 0', rap0, [false, false]],
      ['RAP 1', rap1, [true, false]],
    ] as const) {
      const a = await c.expect('publish');
      await c.ack(a);
      const b = await c.expect('publish');
      await c.ack(b);
      assert.deepEqual([a.payload.toString(), b.payload.toString()], ['r', 'n']);
      assert.deepEqual([a.retain, b.retain], flags, name);
      c.destroy();
    }
    await pub.publish(topic, '', { qos: 1, retain: true });
  });

  test('[MQTT-3.3.1-9][MQTT-3.8.4-4] Retain Handling 0: retained messages are sent on every SUBSCRIBE, including a repeated one', async () => {
    const topic = uniqueTopic('rh0');
    await pub.publish(topic, 'r0', { qos: 1, retain: true });
    const { client } = await rawConnected(tp.mqttPort, 5);
    for (let i = 0; i < 2; i++) {
      await client.subscribe([{ topic, qos: 1, rh: 0 }]);
      const p = await client.expect('publish');
      assert.equal(p.payload.toString(), 'r0', `subscribe #${i + 1}`);
      await client.ack(p);
    }
    client.destroy();
  });

  test('[MQTT-3.3.1-10] Retain Handling 1: retained messages only when the subscription is new', async () => {
    const topic = uniqueTopic('rh1');
    await pub.publish(topic, 'r1', { qos: 1, retain: true });
    const { client } = await rawConnected(tp.mqttPort, 5);
    await client.subscribe([{ topic, qos: 1, rh: 1 }]);
    const p = await client.expect('publish');
    assert.equal(p.payload.toString(), 'r1');
    await client.ack(p);
    await client.subscribe([{ topic, qos: 1, rh: 1 }]);
    const got = await untilMarker(client, topic);
    assert.deepEqual(got.map((x) => x.payload.toString()), ['__marker__'], 'no retained message for an existing subscription');
    client.destroy();
  });

  test('[MQTT-3.3.1-11] Retain Handling 2: retained messages are never sent on subscribe', async () => {
    const topic = uniqueTopic('rh2');
    await pub.publish(topic, 'r2', { qos: 1, retain: true });
    const { client } = await rawConnected(tp.mqttPort, 5);
    await client.subscribe([{ topic, qos: 1, rh: 2 }]);
    const got = await untilMarker(client, topic);
    assert.deepEqual(got.map((x) => x.payload.toString()), ['__marker__']);
    client.destroy();
  });

  test('[MQTT-3.3.1-9] a wildcard subscription receives every matching retained message, and only those', async () => {
    const base = uniqueTopic('wild');
    for (const t of ['a', 'b/c', 'b/d/e']) await pub.publish(`${base}/${t}`, t, { qos: 1, retain: true });
    await pub.publish(`${base}x/a`, 'other', { qos: 1, retain: true });
    const { client } = await rawConnected(tp.mqttPort, 5);
    await client.subscribe([{ topic: `${base}/#`, qos: 1 }]);
    const got = await untilMarker(client, `${base}/m`);
    assert.deepEqual(
      got.map((p) => p.topic).sort(),
      [`${base}/a`, `${base}/b/c`, `${base}/b/d/e`, `${base}/m`].sort(),
    );
    client.destroy();
  });

  test('[MQTT-3.8.4-8] a retained message is delivered at the lower of its stored QoS and the granted QoS', async () => {
    const topic = uniqueTopic('rqos');
    await pub.publish(topic, 'q2', { qos: 2, retain: true });
    for (const q of [0, 1, 2] as const) {
      const { client } = await rawConnected(tp.mqttPort, 5);
      await client.subscribe([{ topic, qos: q }]);
      const p = await client.expect('publish');
      assert.equal(p.qos, q);
      await client.ack(p);
      client.destroy();
    }
    await pub.publish(topic, 'q0', { qos: 0, retain: true });
    // A QoS 1 round trip on the same connection: the QoS 0 PUBLISH before it has been processed.
    await pub.publish(uniqueTopic('sync'), 's', { qos: 1 });
    const probe = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await probe.subscribe(topic, { qos: 2 });
    const m = await probe.waitMessage(topic);
    assert.equal(m.payload.toString(), 'q0');
    assert.equal(m.packet.qos, 0);
    await probe.end();
  });
});

describe('04 retain: replay is not cut by the session queue bound', () => {
  let tp: Thingport;
  before(async () => {
    tp = await startThingport({ args: ['--mqtt.max-queued-messages', '5'] });
  });
  after(async () => {
    await tp?.stop();
  });

  test('[MQTT-3.3.1-9] every matching retained message reaches a new QoS 1 subscriber, even beyond maxQueuedMessages', async () => {
    const pub = await connectClient(tp.mqttPort);
    for (let i = 0; i < 150; i++) await pub.publish(`replay/${i}`, `v${i}`, { qos: 1, retain: true });
    const sub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await sub.subscribe('replay/#', { qos: 1 });
    const got = await sub.waitMessages((m) => m.topic.startsWith('replay/'), 150);
    assert.equal(new Set(got.map((m) => m.topic)).size, 150, 'more than the 100-message window plus the 5-message queue');
    assert.ok(got.every((m) => m.packet.retain));
    await sub.end();
    await pub.end();
  });
});
