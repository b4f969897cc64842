/**
 * 08 — MQTT 5 features: message expiry, topic aliases both ways, user properties, content type,
 * payload format indicator (validated), response topic and correlation data, subscription
 * identifiers, no-local, Maximum Packet Size towards the client, 3.1.1 <-> 5 exchange, and the
 * aws-strict profile.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt-packet';
import { rawPublish, rawSubscribe } from '../helpers/raw-bytes.js';
import { expectServerDisconnect, hex, rawConnect, rawConnected, randomClientId } from '../helpers/raw-client.js';
import { connectClient, elapse, uniqueTopic, type TestClient } from '../helpers/mqtt.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

describe('08 MQTT 5 properties', () => {
  let tp: Thingport;
  let pub: TestClient;
  before(async () => {
    tp = await startThingport();
    pub = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('pub08') });
  });
  after(async () => {
    await pub?.end();
    await tp?.stop();
  });

  test('[MQTT-3.3.2-5][MQTT-3.3.2-6] message expiry: expired copies are dropped (queued and retained); the rest carry the reduced interval', async () => {
    const topic = uniqueTopic('expiry');
    const clientId = randomClientId('exp');
    const session = { clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
    const { client: s1 } = await rawConnected(tp.mqttPort, 5, session);
    await s1.subscribe([{ topic, qos: 1 }]);
    await s1.disconnect();
    await pub.publish(topic, 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.publish(topic, 'long', { qos: 1, properties: { messageExpiryInterval: 60 } });
    await pub.publish(`${topic}/r1`, 'retained short', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    await pub.publish(`${topic}/r60`, 'retained long', { qos: 1, retain: true, properties: { messageExpiryInterval: 60 } });
    await elapse(2_200);
    const s2 = await rawConnect(tp.mqttPort, { protocolVersion: 5 });
    assert.equal((await s2.connect(session)).sessionPresent, true);
    await pub.publish(topic, 'marker', { qos: 1 });
    const got: IPublishPacket[] = [];
    for (;;) {
      const p = await s2.expect('publish');
      await s2.ack(p);
      if (p.payload.toString() === 'marker') break;
      got.push(p);
    }
    assert.deepEqual(got.map((p) => p.payload.toString()), ['long'], 'the 1 s message expired while queued');
    const left = got[0].properties?.messageExpiryInterval;
    assert.ok(left !== undefined && left <= 58 && left >= 1, `forwarded Message Expiry Interval ${left}, expected 60 minus the 2 s waited`);
    await s2.subscribe([{ topic: `${topic}/+`, qos: 1 }]);
    await pub.publish(`${topic}/m`, 'marker', { qos: 1 });
    const retained: IPublishPacket[] = [];
    for (;;) {
      const p = await s2.expect('publish');
      await s2.ack(p);
      if (p.payload.toString() === 'marker') break;
      retained.push(p);
    }
    assert.deepEqual(retained.map((p) => p.payload.toString()), ['retained long'], 'an expired retained message is not sent');
    const rleft = retained[0].properties?.messageExpiryInterval;
    assert.ok(rleft !== undefined && rleft <= 58, `retained Message Expiry Interval ${rleft}`);
    await s2.disconnect(0, { sessionExpiryInterval: 0 });
    await pub.publish(`${topic}/r60`, '', { qos: 1, retain: true });
  });

  test('[MQTT-3.3.2-12] the server accepts Topic Alias 1..8: set with a topic, then used with an empty topic, then remapped', async () => {
    const a = uniqueTopic('alias-a');
    const b = uniqueTopic('alias-b');
    const sub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await sub.subscribe([a, b]);
    const { client, connack } = await rawConnected(tp.mqttPort, 5);
    assert.equal(connack.properties?.topicAliasMaximum, 8);
    client.send(rawPublish(a, 'one', { protocolVersion: 5, properties: [0x23, 0, 1] }));
    client.send(rawPublish('', 'two', { protocolVersion: 5, properties: [0x23, 0, 1] }));
    client.send(rawPublish(b, 'three', { protocolVersion: 5, properties: [0x23, 0, 8] }));
    client.send(rawPublish(b, 'four', { protocolVersion: 5, properties: [0x23, 0, 1] }));
    client.send(rawPublish('', 'five', { protocolVersion: 5, properties: [0x23, 0, 1] }));
    client.send(rawPublish('', 'six', { protocolVersion: 5, properties: [0x23, 0, 8] }));
    await sub.waitMessages(() => true, 6);
    assert.deepEqual(
      sub.messages.map((m) => `${m.topic === a ? 'a' : m.topic === b ? 'b' : m.topic}:${m.payload.toString()}`),
      ['a:one', 'a:two', 'b:three', 'b:four', 'b:five', 'b:six'],
    );
    client.destroy();
    await sub.end();
  });

  for (const [name, alias, code] of [
    ['[MQTT-3.3.2-8] Topic Alias 0', 0, 0x94],
    ['[MQTT-3.2.2-17] Topic Alias above the maximum (9 > 8)', 9, 0x94],
  ] as const) {
    test(`${name}: DISCONNECT ${hex(code)} (Topic Alias invalid)`, async () => {
      const { client } = await rawConnected(tp.mqttPort, 5);
      client.send(rawPublish(uniqueTopic('badalias'), 'x', { protocolVersion: 5, properties: [0x23, alias >> 8, alias & 0xff] }));
      await expectServerDisconnect(client, code);
    });
  }

  test('[MQTT5 3.3.2.3.4] an empty topic with an alias that was never set: DISCONNECT 0x82 (Protocol Error)', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5);
    client.send(rawPublish('', 'x', { protocolVersion: 5, properties: [0x23, 0, 3] }));
    await expectServerDisconnect(client, 0x82);
  });

  test('[MQTT-3.3.2-7] topic alias mappings do not carry over to a new connection', async () => {
    const clientId = randomClientId('carry');
    const { client: c1 } = await rawConnected(tp.mqttPort, 5, { clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
    c1.send(rawPublish(uniqueTopic('carry'), 'x', { protocolVersion: 5, properties: [0x23, 0, 2] }));
    await c1.ping();
    await c1.disconnect();
    const { client: c2 } = await rawConnected(tp.mqttPort, 5, { clientId, clean: false, properties: { sessionExpiryInterval: 0 } });
    c2.send(rawPublish('', 'y', { protocolVersion: 5, properties: [0x23, 0, 2] }));
    await expectServerDisconnect(c2, 0x82);
  });

  test('[MQTT-3.1.2-26][MQTT-3.3.2-11] the server sends topic aliases to a client that allows them, never above its maximum', async () => {
    const base = uniqueTopic('outalias');
    const topics = ['a', 'b', 'c'].map((x) => `${base}/${x}`);
    const { client } = await rawConnected(tp.mqttPort, 5, { properties: { topicAliasMaximum: 2 } });
    await client.subscribe([{ topic: `${base}/+`, qos: 0 }]);
    const sent: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (const t of topics) {
        await pub.publish(t, `${round}`, { qos: 0 });
        sent.push(t);
      }
    }
    const aliases = new Map<number, string>();
    const resolved: string[] = [];
    let usedEmpty = false;
    for (let i = 0; i < sent.length; i++) {
      const p = await client.expect('publish');
      const alias = p.properties?.topicAlias;
      if (alias !== undefined) {
        assert.ok(alias >= 1 && alias <= 2, `alias ${alias} outside 1..2`);
        if (p.topic) aliases.set(alias, p.topic);
        else usedEmpty = true;
        assert.ok(aliases.has(alias), `alias ${alias} used before it was set`);
        resolved.push(aliases.get(alias) ?? '');
      } else {
        assert.ok(p.topic, 'a PUBLISH without alias has a topic');
        resolved.push(p.topic);
      }
    }
    assert.deepEqual(resolved, sent, 'every topic resolves correctly');
    assert.ok(usedEmpty, 'the server used at least one alias in place of a topic it had sent before');
    client.destroy();
  });

  test('[MQTT-3.1.2-27] without a Topic Alias Maximum from the client the server sends no aliases', async () => {
    const topic = uniqueTopic('noalias');
    const { client } = await rawConnected(tp.mqttPort, 5);
    await client.subscribe([{ topic, qos: 0 }]);
    for (let i = 0; i < 3; i++) await pub.publish(topic, String(i), { qos: 0 });
    for (const p of await client.publishes(3)) {
      assert.equal(p.properties?.topicAlias, undefined);
      assert.equal(p.topic, topic);
    }
    client.destroy();
  });

  test('[MQTT-3.3.2-17][MQTT-3.3.2-18][MQTT-3.3.2-20][MQTT-3.3.2-4] user properties (in order), content type and payload format reach MQTT 5 subscribers unaltered', async () => {
    const topic = uniqueTopic('props');
    const { client } = await rawConnected(tp.mqttPort, 5);
    await client.subscribe([{ topic, qos: 1 }]);
    await pub.publish(topic, '{"t":21.5}', {
      qos: 1,
      properties: {
        userProperties: { zone: 'north', alpha: ['1', '2'], 'key with space': 'välue' },
        contentType: 'application/json; charset=utf-8',
        payloadFormatIndicator: true,
      },
    });
    const p = await client.expect('publish');
    const props = p.properties ?? {};
    assert.deepEqual({ ...props.userProperties }, { zone: 'north', alpha: ['1', '2'], 'key with space': 'välue' });
    assert.deepEqual(Object.keys(props.userProperties ?? {}), ['zone', 'alpha', 'key with space'], 'order kept');
    assert.equal(props.contentType, 'application/json; charset=utf-8');
    assert.equal(props.payloadFormatIndicator, true);
    await client.ack(p);
    client.destroy();
  });

  test('[MQTT-3.3.2-15][MQTT-3.3.2-16] response topic and correlation data are forwarded unaltered: a request/response round trip', async () => {
    const requests = uniqueTopic('req');
    const replies = uniqueTopic('reply');
    const responder = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await responder.subscribe(requests);
    const requester = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await requester.subscribe(replies);
    const correlation = Buffer.from([0, 1, 2, 0xfe, 0xff]);
    await requester.publish(requests, 'ping?', { qos: 1, properties: { responseTopic: replies, correlationData: correlation } });
    const req = await responder.waitMessage(requests);
    assert.equal(req.packet.properties?.responseTopic, replies);
    assert.deepEqual(req.packet.properties?.correlationData, correlation);
    await responder.publish(req.packet.properties?.responseTopic ?? '', 'pong', {
      qos: 1,
      properties: { correlationData: req.packet.properties?.correlationData },
    });
    const reply = await requester.waitMessage(replies);
    assert.deepEqual(reply.packet.properties?.correlationData, correlation);
    await responder.end();
    await requester.end();
  });

  test('[MQTT5 3.3.2.3.2] Payload Format Indicator 1 with invalid UTF-8: 0x99 (PUBACK or DISCONNECT) with a reason string; not delivered', async () => {
    const topic = uniqueTopic('pfi');
    const sub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await sub.subscribe(topic);
    const { client } = await rawConnected(tp.mqttPort, 5);
    client.send(rawPublish(topic, Buffer.from([0x68, 0xc3, 0x28, 0xff]), { qos: 1, messageId: 5, protocolVersion: 5, properties: [0x01, 0x01] }));
    const p = await client.nextPacket();
    assert.ok(p.cmd === 'puback' || p.cmd === 'disconnect', `expected PUBACK or DISCONNECT, got ${p.cmd}`);
    assert.equal(p.reasonCode, 0x99, `reason ${hex(p.reasonCode ?? 0)}`);
    assert.ok((p.properties?.reasonString ?? '').length > 0, 'a reason string explains the refusal');
    if (p.cmd === 'disconnect') await client.waitClosed();
    await pub.publish(topic, 'marker', { qos: 1 });
    await sub.waitMessage(topic);
    assert.deepEqual(sub.matching(topic).map((m) => m.payload.toString()), ['marker']);
    client.destroy();
    await sub.end();
  });

  test('[MQTT-3.1.2-29] Request Problem Information 0: no reason string on a PUBACK', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5, { properties: { requestProblemInformation: false } });
    client.send(rawPublish(uniqueTopic('rpi'), Buffer.from([0xff]), { qos: 1, messageId: 6, protocolVersion: 5, properties: [0x01, 0x01] }));
    const p = await client.nextPacket();
    if (p.cmd === 'puback') {
      assert.equal(p.properties?.reasonString, undefined);
      assert.equal(p.properties?.userProperties, undefined);
    } else {
      assert.equal(p.cmd, 'disconnect', `got ${p.cmd}`);
    }
    client.destroy();
  });

  test('[MQTT-3.1.2-28] without Request Response Information the CONNACK carries no Response Information', async () => {
    const { client, connack } = await rawConnected(tp.mqttPort, 5);
    assert.equal(connack.properties?.responseInformation, undefined);
    client.destroy();
  });

  test('[MQTT-3.3.4-3][MQTT-3.3.4-4][MQTT-3.3.4-5] subscription identifiers come with each delivery; overlapping matches carry all of them', async () => {
    const base = uniqueTopic('subid');
    const { client } = await rawConnected(tp.mqttPort, 5);
    await client.subscribe([{ topic: `${base}/+`, qos: 1 }], { properties: { subscriptionIdentifier: 7 } });
    await client.subscribe([{ topic: `${base}/x`, qos: 1 }], { properties: { subscriptionIdentifier: 300 } });
    await pub.publish(`${base}/y`, 'one', { qos: 1 });
    const one = await client.expect('publish');
    assert.deepEqual(toIds(one), [7]);
    await client.ack(one);
    await pub.publish(`${base}/x`, 'two', { qos: 1 });
    const first = await client.expect('publish');
    await client.ack(first);
    await client.ping();
    const copies = [first, ...client.pending().filter((p): p is IPublishPacket => p.cmd === 'publish')];
    const ids = copies.flatMap(toIds).sort((x, y) => x - y);
    assert.deepEqual(ids, [7, 300], `identifiers across ${copies.length} cop${copies.length === 1 ? 'y' : 'ies'}`);
    client.destroy();
  });

  test('[MQTT-3.3.4-6] a PUBLISH from a client carrying a Subscription Identifier: DISCONNECT 0x82', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5);
    client.send(rawPublish(uniqueTopic('pubsubid'), 'x', { protocolVersion: 5, properties: [0x0b, 0x05] }));
    await expectServerDisconnect(client, 0x82);
  });

  test('[MQTT5 3.8.2.1.2] Subscription Identifier 0 in SUBSCRIBE: DISCONNECT 0x82', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5);
    client.send(rawSubscribe([{ topic: uniqueTopic('sid0'), options: 1 }], { protocolVersion: 5, properties: [0x0b, 0x00] }));
    await expectServerDisconnect(client, 0x82);
  });

  test('[MQTT-3.8.3-3] No Local: a client does not receive its own publications; other subscribers do', async () => {
    const topic = uniqueTopic('nolocal');
    const self = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await self.subscribe(topic, { qos: 1, nl: true });
    const other = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await other.subscribe(topic);
    await self.publish(topic, 'mine', { qos: 1 });
    await pub.publish(topic, 'theirs', { qos: 1 });
    await other.waitMessages(topic, 2);
    await self.waitMessage(topic);
    assert.deepEqual(self.matching(topic).map((m) => m.payload.toString()), ['theirs']);
    await self.end();
    await other.end();
  });

  test('[MQTT-3.1.2-24][MQTT-3.1.2-25] messages larger than the client\'s Maximum Packet Size are skipped for that client only', async () => {
    const topic = uniqueTopic('cmps');
    const { client } = await rawConnected(tp.mqttPort, 5, { properties: { maximumPacketSize: 200 } });
    await client.subscribe([{ topic, qos: 1 }]);
    const other = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await other.subscribe(topic);
    await pub.publish(topic, 'small-1', { qos: 1 });
    await pub.publish(topic, 'L'.repeat(1_000), { qos: 1 });
    await pub.publish(topic, 'small-2', { qos: 1 });
    const got = await client.publishes(2);
    for (const p of got) await client.ack(p);
    assert.deepEqual(got.map((p) => p.payload.toString()), ['small-1', 'small-2']);
    await client.ping();
    assert.deepEqual(client.pending(), [], 'the large message was not sent to this client');
    const all = await other.waitMessages(topic, 3);
    assert.equal(all[1].payload.length, 1_000, 'other clients still get the large message');
    client.destroy();
    await other.end();
  });

  test('[AWS MQTT 5] a 3.1.1 client and an MQTT 5 client exchange messages both ways at QoS 0, 1 and 2', async () => {
    const t4 = uniqueTopic('to-v4');
    const t5 = uniqueTopic('to-v5');
    const v4 = await connectClient(tp.mqttPort, { protocolVersion: 4 });
    const v5 = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await v4.subscribe(t4, { qos: 2 });
    await v5.subscribe(t5, { qos: 2 });
    for (const qos of [0, 1, 2] as const) {
      await v5.publish(t4, `5to4 q${qos}`, { qos, properties: { userProperties: { a: 'b' }, contentType: 'text/plain' } });
      await v4.publish(t5, `4to5 q${qos}`, { qos });
    }
    const at4 = await v4.waitMessages(t4, 3);
    const at5 = await v5.waitMessages(t5, 3);
    assert.deepEqual(at4.map((m) => m.payload.toString()).sort(), ['5to4 q0', '5to4 q1', '5to4 q2']);
    assert.deepEqual(at5.map((m) => m.payload.toString()).sort(), ['4to5 q0', '4to5 q1', '4to5 q2']);
    assert.deepEqual(at5.map((m) => m.packet.qos).sort(), [0, 1, 2]);
    await v4.end();
    await v5.end();
  });
});

function toIds(p: IPublishPacket): number[] {
  const s = p.properties?.subscriptionIdentifier;
  return s === undefined ? [] : Array.isArray(s) ? s : [s];
}

describe('08 MQTT 5 properties: aws-strict profile', () => {
  let tp: Thingport;
  before(async () => {
    tp = await startThingport({ args: ['--profile', 'aws-strict'] });
  });
  after(async () => {
    await tp?.stop();
  });

  test('[AWS MQTT 5] CONNACK: Maximum QoS 1, Subscription Identifiers Available 0, Retain Available', async () => {
    const { client, connack } = await rawConnected(tp.mqttPort, 5);
    assert.equal(connack.properties?.maximumQoS, 1);
    assert.equal(connack.properties?.subscriptionIdentifiersAvailable, false);
    assert.notEqual(connack.properties?.retainAvailable, false);
    client.destroy();
  });

  test('[MQTT5 3.8.2.1.2] a SUBSCRIBE with a Subscription Identifier when unsupported: DISCONNECT 0xA1', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5);
    client.sendPacket({ cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: uniqueTopic('sid'), qos: 1 }], properties: { subscriptionIdentifier: 3 } });
    await expectServerDisconnect(client, 0xa1);
  });
});
