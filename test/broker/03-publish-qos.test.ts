/**
 * 03 — PUBLISH at QoS 0, 1 and 2 end to end: acknowledgement flows, packet ids, granted QoS,
 * Receive Maximum towards the client, redelivery with DUP on reconnect, and the maxQos downgrade.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt-packet';
import { expectServerDisconnect, hex, rawConnect, rawConnected, randomClientId, type RawClient } from '../helpers/raw-client.js';
import { connectClient, uniqueTopic, type TestClient } from '../helpers/mqtt.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

/** A persistent-session CONNECT for either version. */
function persistent(v: 4 | 5, clientId: string): { clientId: string; clean: false; properties?: { sessionExpiryInterval: number } } {
  return v === 5 ? { clientId, clean: false, properties: { sessionExpiryInterval: 300 } } : { clientId, clean: false };
}

describe('03 publish and QoS', () => {
  let tp: Thingport;
  let pub: TestClient;
  before(async () => {
    tp = await startThingport();
    pub = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('pub03') });
  });
  after(async () => {
    await pub?.end();
    await tp?.stop();
  });

  test('[MQTT-4.3.1-1][MQTT-3.3.1-2][MQTT-2.2.1-2] QoS 0 end to end, 3.1.1 to 5 and 5 to 3.1.1: once, DUP 0, no packet id', async () => {
    for (const [pv, sv] of [
      [4, 5],
      [5, 4],
    ] as const) {
      const topic = uniqueTopic('qos0');
      const { client: sub } = await rawConnected(tp.mqttPort, sv);
      await sub.subscribe([{ topic, qos: 2 }]);
      const { client: p } = await rawConnected(tp.mqttPort, pv);
      await p.publish(topic, `from v${pv}`, { qos: 0 });
      const got = await sub.expect('publish');
      assert.equal(got.payload.toString(), `from v${pv}`);
      assert.equal(got.qos, 0);
      assert.equal(got.dup, false);
      assert.equal(got.messageId, undefined);
      await sub.ping();
      assert.equal(sub.pending().length, 0, 'delivered once');
      p.destroy();
      sub.destroy();
    }
  });

  test('[MQTT-4.3.2-4][MQTT-2.2.1-4][MQTT-4.3.2-2] QoS 1: PUBACK with the PUBLISH packet id; subscriber gets QoS 1, non-zero id, DUP 0', async () => {
    for (const v of [4, 5] as const) {
      const topic = uniqueTopic('qos1');
      const { client: sub } = await rawConnected(tp.mqttPort, v);
      await sub.subscribe([{ topic, qos: 1 }]);
      const { client: p } = await rawConnected(tp.mqttPort, v);
      // publish() asserts the PUBACK carries our id 4711.
      const rc = await p.publish(topic, 'one', { qos: 1, messageId: 4711 });
      assert.ok(rc < 0x80, `PUBACK reason ${hex(rc)}`);
      const got = await sub.expect('publish');
      assert.equal(got.qos, 1);
      assert.equal(got.dup, false);
      assert.ok((got.messageId ?? 0) > 0, 'non-zero packet id');
      assert.equal(got.payload.toString(), 'one');
      await sub.ack(got);
      p.destroy();
      sub.destroy();
    }
  });

  test('[MQTT-4.3.3-8][MQTT-4.3.3-11][MQTT-4.3.3-4] QoS 2: PUBREC/PUBCOMP carry the id; the subscriber side gets PUBLISH, then PUBREL with its id', async () => {
    for (const v of [4, 5] as const) {
      const topic = uniqueTopic('qos2');
      const { client: sub } = await rawConnected(tp.mqttPort, v);
      await sub.subscribe([{ topic, qos: 2 }]);
      const { client: p } = await rawConnected(tp.mqttPort, v);
      const rc = await p.publish(topic, 'exactly once', { qos: 2, messageId: 999 });
      assert.ok(rc < 0x80, `PUBREC reason ${hex(rc)}`);
      const got = await sub.expect('publish');
      assert.equal(got.qos, 2);
      assert.equal(got.dup, false);
      sub.sendPacket({ cmd: 'pubrec', messageId: got.messageId });
      const rel = await sub.expect('pubrel');
      assert.equal(rel.messageId, got.messageId);
      sub.sendPacket({ cmd: 'pubcomp', messageId: got.messageId });
      await sub.ping();
      assert.equal(sub.pending().length, 0);
      p.destroy();
      sub.destroy();
    }
  });

  test('[MQTT-4.3.3-10] a QoS 2 PUBLISH resent with DUP before PUBREL is acknowledged with PUBREC again and delivered once', async () => {
    const topic = uniqueTopic('qos2dup');
    const sub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await sub.subscribe(topic, { qos: 2 });
    const { client: p } = await rawConnected(tp.mqttPort, 5);
    const publish: IPublishPacket = { cmd: 'publish', topic, payload: 'dup?', qos: 2, dup: false, retain: false, messageId: 77 };
    p.sendPacket(publish);
    assert.equal((await p.takeAck('pubrec', 77)).messageId, 77);
    p.sendPacket({ ...publish, dup: true });
    assert.equal((await p.takeAck('pubrec', 77)).messageId, 77);
    p.sendPacket({ cmd: 'pubrel', messageId: 77 });
    await p.takeAck('pubcomp', 77);
    await pub.publish(topic, 'marker', { qos: 2 });
    await sub.waitMessages(topic, 2);
    assert.deepEqual(sub.matching(topic).map((m) => m.payload.toString()), ['dup?', 'marker']);
    p.destroy();
    await sub.end();
  });

  test('[MQTT-4.3.3-12][MQTT-4.3.2-5] after PUBCOMP / PUBACK the same packet id starts a new message', async () => {
    const topic = uniqueTopic('reuse');
    const sub = await connectClient(tp.mqttPort, { protocolVersion: 4 });
    await sub.subscribe(topic, { qos: 2 });
    const { client: p } = await rawConnected(tp.mqttPort, 4);
    await p.publish(topic, 'q2-a', { qos: 2, messageId: 5 });
    await p.publish(topic, 'q2-b', { qos: 2, messageId: 5 });
    await p.publish(topic, 'q1-a', { qos: 1, messageId: 6 });
    await p.publish(topic, 'q1-b', { qos: 1, messageId: 6 });
    const got = await sub.waitMessages(topic, 4);
    // Order is only promised within one QoS level [MQTT-4.6.0-5].
    assert.deepEqual(got.map((m) => m.payload.toString()).sort(), ['q1-a', 'q1-b', 'q2-a', 'q2-b']);
    p.destroy();
    await sub.end();
  });

  test('[MQTT-3.3.1-3] the DUP flag of an incoming PUBLISH is not propagated to subscribers', async () => {
    const topic = uniqueTopic('dupprop');
    const { client: sub } = await rawConnected(tp.mqttPort, 5);
    await sub.subscribe([{ topic, qos: 1 }]);
    const { client: p } = await rawConnected(tp.mqttPort, 5);
    p.sendPacket({ cmd: 'publish', topic, payload: 'd', qos: 1, dup: true, retain: false, messageId: 12 });
    await p.takeAck('puback', 12);
    const got = await sub.expect('publish');
    assert.equal(got.dup, false);
    p.destroy();
    sub.destroy();
  });

  test('[MQTT-3.8.4-8] delivered QoS is the minimum of the published QoS and the granted QoS', async () => {
    const topic = uniqueTopic('minqos');
    const subs: RawClient[] = [];
    for (const q of [0, 1, 2] as const) {
      const { client } = await rawConnected(tp.mqttPort, 5);
      assert.deepEqual(await client.subscribe([{ topic, qos: q }]), [q]);
      subs.push(client);
    }
    for (const pq of [0, 1, 2] as const) await pub.publish(topic, `p${pq}`, { qos: pq });
    for (const [sq, sub] of subs.entries()) {
      const byPayload = new Map<string, number>();
      for (let i = 0; i < 3; i++) {
        const got = await sub.expect('publish');
        byPayload.set(got.payload.toString(), got.qos);
        await sub.ack(got);
      }
      // Ordering is only promised per QoS level [MQTT-4.6.0-5], so compare by payload.
      for (const pq of [0, 1, 2]) assert.equal(byPayload.get(`p${pq}`), Math.min(pq, sq), `published at ${pq}, granted ${sq}`);
      sub.destroy();
    }
  });

  test('[MQTT-3.3.4-2] overlapping subscriptions: the message is delivered at the maximum QoS of the matches', async () => {
    const base = uniqueTopic('overlap');
    const { client: sub } = await rawConnected(tp.mqttPort, 4);
    await sub.subscribe([
      { topic: `${base}/#`, qos: 0 },
      { topic: `${base}/a`, qos: 2 },
    ]);
    await pub.publish(`${base}/a`, 'x', { qos: 2 });
    const first = await sub.expect('publish');
    const copies = [first];
    await sub.ack(first);
    await sub.ping();
    for (const p of sub.pending()) if (p.cmd === 'publish') copies.push(p);
    assert.equal(Math.max(...copies.map((c) => c.qos)), 2, `copies at QoS ${copies.map((c) => c.qos).join(',')}`);
    sub.destroy();
  });

  test('[MQTT-3.3.4-9][MQTT-3.3.4-10][MQTT-4.9.0-3] the server respects the client\'s Receive Maximum; PINGRESP is never held back', async () => {
    const topic = uniqueTopic('rxmax');
    const { client: sub } = await rawConnected(tp.mqttPort, 5, { properties: { receiveMaximum: 2 } });
    await sub.subscribe([{ topic, qos: 1 }]);
    // All five are accepted by the broker (PUBACKed to the publisher) before we look.
    for (let i = 0; i < 5; i++) await pub.publish(topic, String(i), { qos: 1 });
    const first = await sub.publishes(2);
    await sub.ping();
    assert.deepEqual(sub.pending(), [], 'no third QoS 1 PUBLISH while two are unacknowledged');
    sub.sendPacket({ cmd: 'puback', messageId: first[0].messageId });
    const third = await sub.expect('publish');
    await sub.ping();
    assert.deepEqual(sub.pending(), [], 'exactly one more after one PUBACK');
    for (const p of [first[1], third]) sub.sendPacket({ cmd: 'puback', messageId: p.messageId });
    const rest = await sub.publishes(2);
    assert.deepEqual([...first, third, ...rest].map((p) => p.payload.toString()), ['0', '1', '2', '3', '4']);
    sub.destroy();
  });

  test('[MQTT-3.3.4-9] a QoS 2 delivery occupies the Receive Maximum window until PUBCOMP', async () => {
    const topic = uniqueTopic('rxmax2');
    const { client: sub } = await rawConnected(tp.mqttPort, 5, { properties: { receiveMaximum: 1 } });
    await sub.subscribe([{ topic, qos: 2 }]);
    await pub.publish(topic, 'a', { qos: 2 });
    await pub.publish(topic, 'b', { qos: 2 });
    const a = await sub.expect('publish');
    sub.sendPacket({ cmd: 'pubrec', messageId: a.messageId });
    await sub.expect('pubrel');
    await sub.ping();
    assert.deepEqual(sub.pending(), [], 'nothing more before PUBCOMP');
    sub.sendPacket({ cmd: 'pubcomp', messageId: a.messageId });
    const b = await sub.expect('publish');
    assert.equal(b.payload.toString(), 'b');
    sub.destroy();
  });

  for (const v of [4, 5] as const) {
    test(`[MQTT-4.4.0-1][MQTT-3.3.1-1] MQTT ${v === 4 ? '3.1.1' : '5'}: an unacknowledged QoS 1 delivery is resent on reconnect with DUP 1 and the same packet id`, async () => {
      const topic = uniqueTopic('redeliver');
      const clientId = randomClientId(`rd${v}`);
      const { client: s1 } = await rawConnected(tp.mqttPort, v, persistent(v, clientId));
      await s1.subscribe([{ topic, qos: 1 }]);
      await pub.publish(topic, 'again', { qos: 1 });
      const first = await s1.expect('publish');
      assert.equal(first.dup, false);
      s1.destroy();
      await s1.waitClosed();
      const s2 = await rawConnect(tp.mqttPort, { protocolVersion: v });
      const connack = await s2.connect(persistent(v, clientId));
      assert.equal(connack.sessionPresent, true);
      const again = await s2.expect('publish');
      assert.equal(again.messageId, first.messageId, 'original packet id');
      assert.equal(again.dup, true, 'DUP set on redelivery');
      assert.equal(again.payload.toString(), 'again');
      await s2.ack(again);
      await s2.disconnect();
      // Clean up the persistent session.
      (await rawConnected(tp.mqttPort, v, { clientId, clean: true })).client.destroy();
    });
  }

  test('[MQTT-4.4.0-1][MQTT-4.3.3-6] an uncompleted PUBREL is resent on reconnect, never the PUBLISH again', async () => {
    const topic = uniqueTopic('pubrel');
    const clientId = randomClientId('rel');
    const { client: s1 } = await rawConnected(tp.mqttPort, 5, persistent(5, clientId));
    await s1.subscribe([{ topic, qos: 2 }]);
    await pub.publish(topic, 'q2', { qos: 2 });
    const p = await s1.expect('publish');
    s1.sendPacket({ cmd: 'pubrec', messageId: p.messageId });
    await s1.expect('pubrel');
    s1.destroy();
    await s1.waitClosed();
    const s2 = await rawConnect(tp.mqttPort, { protocolVersion: 5 });
    assert.equal((await s2.connect(persistent(5, clientId))).sessionPresent, true);
    const rel = await s2.nextPacket();
    assert.equal(rel.cmd, 'pubrel', `expected PUBREL, got ${rel.cmd}`);
    assert.equal(rel.messageId, p.messageId);
    s2.sendPacket({ cmd: 'pubcomp', messageId: p.messageId });
    await s2.ping();
    assert.deepEqual(s2.pending(), []);
    await s2.disconnect(0, { sessionExpiryInterval: 0 });
  });

  test('[MQTT-4.4.0-1][MQTT-4.3.3-10] publisher side: a QoS 2 flow cut after PUBREC completes after reconnect and is delivered once', async () => {
    const topic = uniqueTopic('pubside');
    const sub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await sub.subscribe(topic, { qos: 2 });
    const clientId = randomClientId('ps');
    const { client: p1 } = await rawConnected(tp.mqttPort, 4, persistent(4, clientId));
    p1.sendPacket({ cmd: 'publish', topic, payload: 'half', qos: 2, dup: false, retain: false, messageId: 3 });
    await p1.takeAck('pubrec', 3);
    p1.destroy();
    await p1.waitClosed();
    const p2 = await rawConnect(tp.mqttPort, { protocolVersion: 4 });
    assert.equal((await p2.connect(persistent(4, clientId))).sessionPresent, true);
    p2.sendPacket({ cmd: 'pubrel', messageId: 3 });
    await p2.takeAck('pubcomp', 3);
    await pub.publish(topic, 'marker', { qos: 2 });
    await sub.waitMessages(topic, 2);
    assert.deepEqual(sub.matching(topic).map((m) => m.payload.toString()), ['half', 'marker']);
    p2.destroy();
    (await rawConnected(tp.mqttPort, 4, { clientId, clean: true })).client.destroy();
    await sub.end();
  });

  test('[MQTT-4.4.0-2] a delivery the client refused with PUBACK >= 0x80 is not resent on reconnect', async () => {
    const topic = uniqueTopic('refused');
    const clientId = randomClientId('nack');
    const { client: s1 } = await rawConnected(tp.mqttPort, 5, persistent(5, clientId));
    await s1.subscribe([{ topic, qos: 1 }]);
    await pub.publish(topic, 'unwanted', { qos: 1 });
    const p = await s1.expect('publish');
    s1.sendPacket({ cmd: 'puback', messageId: p.messageId, reasonCode: 0x80 });
    await s1.ping();
    s1.destroy();
    await s1.waitClosed();
    const s2 = await rawConnect(tp.mqttPort, { protocolVersion: 5 });
    assert.equal((await s2.connect(persistent(5, clientId))).sessionPresent, true);
    await pub.publish(topic, 'next', { qos: 1 });
    const got = await s2.expect('publish');
    assert.equal(got.payload.toString(), 'next', 'the refused message must not come back');
    await s2.disconnect(0, { sessionExpiryInterval: 0 });
  });
});

describe('03 publish and QoS: maxQos 1', () => {
  let tp: Thingport;
  before(async () => {
    tp = await startThingport({ args: ['--mqtt.max-qos', '1'] });
  });
  after(async () => {
    await tp?.stop();
  });

  test('[MQTT-3.2.2-9] CONNACK advertises Maximum QoS 1', async () => {
    const { client, connack } = await rawConnected(tp.mqttPort, 5);
    assert.equal(connack.properties?.maximumQoS, 1);
    client.destroy();
  });

  test('[MQTT-3.2.2-10] a SUBSCRIBE asking QoS 2 is accepted and granted QoS 1 (3.1.1 and 5); deliveries come at QoS 1', async () => {
    for (const v of [4, 5] as const) {
      const topic = uniqueTopic('downgrade');
      const { client } = await rawConnected(tp.mqttPort, v);
      assert.deepEqual(await client.subscribe([{ topic, qos: 2 }]), [1], `MQTT ${v}`);
      await client.publish(topic, 'q1', { qos: 1 });
      const got = await client.expect('publish');
      assert.equal(got.qos, 1);
      await client.ack(got);
      client.destroy();
    }
  });

  test('[MQTT-3.2.2-11] an MQTT 5 PUBLISH at QoS 2 above Maximum QoS: DISCONNECT 0x9B (QoS not supported)', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5);
    client.sendPacket({ cmd: 'publish', topic: uniqueTopic('q2'), payload: 'x', qos: 2, dup: false, retain: false, messageId: 1 });
    await expectServerDisconnect(client, 0x9b);
  });

  test('[MQTT-3.2.2-12] a Will at QoS 2 above Maximum QoS: CONNACK 0x9B, close', async () => {
    const c = await rawConnect(tp.mqttPort, { protocolVersion: 5 });
    const connack = await c.connect({ clientId: randomClientId(), will: { topic: uniqueTopic('will'), payload: Buffer.from('w'), qos: 2, retain: false } });
    assert.equal(connack.reasonCode, 0x9b, `reason ${hex(connack.reasonCode ?? -1)}`);
    await c.waitClosed();
  });
});
