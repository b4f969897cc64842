/**
 * 05 — Will messages: published on an ungraceful close (drop, keep-alive timeout, protocol
 * error), discarded on a normal DISCONNECT, sent on DISCONNECT 0x04; MQTT 5 Will Delay Interval
 * and will properties.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnectPacket } from 'mqtt-packet';
import { rawPublish } from '../helpers/raw-bytes.js';
import { expectServerDisconnect, rawConnect, rawConnected, randomClientId } from '../helpers/raw-client.js';
import { connectClient, elapse, uniqueTopic, type TestClient } from '../helpers/mqtt.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

type Will = NonNullable<IConnectPacket['will']>;

function will(topic: string, payload: string, extra: Partial<Will> = {}): Will {
  return { topic, payload: Buffer.from(payload), qos: 1, retain: false, ...extra };
}

describe('05 will', () => {
  let tp: Thingport;
  let pub: TestClient;
  before(async () => {
    tp = await startThingport();
    pub = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('pub05') });
  });
  after(async () => {
    await pub?.end();
    await tp?.stop();
  });

  /** A subscriber for a will topic (Retain As Published, so the RETAIN flag shows). */
  async function watcher(topic: string): Promise<TestClient> {
    const w = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await w.subscribe(topic, { qos: 2, rap: true });
    return w;
  }

  /** Publishes a marker on the topic and returns the payloads the watcher got up to it. */
  async function payloadsUntilMarker(w: TestClient, topic: string): Promise<string[]> {
    await pub.publish(topic, '__marker__', { qos: 1 });
    await w.waitMessage((m) => m.topic === topic && m.payload.toString() === '__marker__');
    return w.matching(topic).map((m) => m.payload.toString());
  }

  for (const v of [4, 5] as const) {
    test(`[MQTT-3.1.2-8] MQTT ${v === 4 ? '3.1.1' : '5'}: the will is published when the connection drops without DISCONNECT`, async () => {
      const topic = uniqueTopic('drop');
      const w = await watcher(topic);
      const { client } = await rawConnected(tp.mqttPort, v, { will: will(topic, `gone v${v}`) });
      client.destroy();
      const m = await w.waitMessage(topic);
      assert.equal(m.payload.toString(), `gone v${v}`);
      assert.equal(m.packet.qos, 1, 'will QoS');
      assert.equal(m.packet.retain, false, '[MQTT-3.1.2-14] Will Retain 0: not retained');
      await w.end();
    });

    test(`[MQTT-3.1.2-10][MQTT-3.14.4-3] MQTT ${v === 4 ? '3.1.1' : '5'}: a normal DISCONNECT discards the will`, async () => {
      const topic = uniqueTopic('graceful');
      const w = await watcher(topic);
      const { client } = await rawConnected(tp.mqttPort, v, { will: will(topic, 'must not appear') });
      await client.disconnect(0);
      assert.deepEqual(await payloadsUntilMarker(w, topic), ['__marker__']);
      await w.end();
    });
  }

  test('[MQTT5 3.14.2.1] DISCONNECT with reason 0x04 (Disconnect with Will Message) publishes the will', async () => {
    const topic = uniqueTopic('rc04');
    const w = await watcher(topic);
    const { client } = await rawConnected(tp.mqttPort, 5, { will: will(topic, 'asked for') });
    await client.disconnect(0x04);
    const m = await w.waitMessage(topic);
    assert.equal(m.payload.toString(), 'asked for');
    await w.end();
  });

  test('[MQTT-3.1.2-15] Will Retain 1: the will is published as a retained message', async () => {
    const topic = uniqueTopic('wretain');
    const { client } = await rawConnected(tp.mqttPort, 4, { will: will(topic, 'retained will', { retain: true }) });
    const w = await watcher(topic);
    client.destroy();
    const live = await w.waitMessage(topic);
    assert.equal(live.packet.retain, true, 'retained flag kept for a Retain As Published subscriber');
    const later = await connectClient(tp.mqttPort, { protocolVersion: 4 });
    await later.subscribe(topic);
    const m = await later.waitMessage(topic);
    assert.equal(m.payload.toString(), 'retained will');
    assert.equal(m.packet.retain, true);
    await pub.publish(topic, '', { qos: 1, retain: true });
    await later.end();
    await w.end();
  });

  test('[MQTT-3.1.2-8] the will is published when the server closes the connection for a protocol error', async () => {
    const topic = uniqueTopic('proterr');
    const w = await watcher(topic);
    const { client } = await rawConnected(tp.mqttPort, 5, { will: will(topic, 'bad client') });
    client.send(rawPublish('a/+/b', 'x', { protocolVersion: 5 }));
    await expectServerDisconnect(client, 0x90);
    const m = await w.waitMessage(topic);
    assert.equal(m.payload.toString(), 'bad client');
    await w.end();
  });

  test('[MQTT-3.1.2-22][MQTT-3.1.2-8] a keep-alive timeout publishes the will', async () => {
    const topic = uniqueTopic('kato');
    const w = await watcher(topic);
    await rawConnected(tp.mqttPort, 4, { keepalive: 1, will: will(topic, 'timed out') });
    const m = await w.waitMessage(topic, 6_000);
    assert.equal(m.payload.toString(), 'timed out');
    await w.end();
  });

  test('[MQTT-3.1.2-8] Will Delay Interval: the will is published after the delay, not at the close', async () => {
    const topic = uniqueTopic('delay');
    const w = await watcher(topic);
    const { client } = await rawConnected(tp.mqttPort, 5, {
      clean: true,
      properties: { sessionExpiryInterval: 60 },
      will: will(topic, 'late', { properties: { willDelayInterval: 2 } }),
    });
    const closedAt = Date.now();
    client.destroy();
    const m = await w.waitMessage(topic, 6_000);
    const after = Date.now() - closedAt;
    assert.equal(m.payload.toString(), 'late');
    assert.ok(after >= 1_500, `published ${after} ms after the close, before the 2 s Will Delay Interval`);
    await w.end();
  });

  test('[MQTT-3.1.3-9] a new connection for the session within the Will Delay Interval cancels the will', async () => {
    const topic = uniqueTopic('cancel');
    const clientId = randomClientId('cancel');
    const w = await watcher(topic);
    const { client } = await rawConnected(tp.mqttPort, 5, {
      clientId,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: will(topic, 'cancelled', { properties: { willDelayInterval: 1 } }),
    });
    client.destroy();
    await client.waitClosed();
    const again = await rawConnect(tp.mqttPort, { protocolVersion: 5 });
    const connack = await again.connect({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(connack.sessionPresent, true);
    // Let the 1 s delay pass while the client is back: no will may follow.
    await elapse(1_800);
    assert.deepEqual(await payloadsUntilMarker(w, topic), ['__marker__']);
    await again.disconnect(0, { sessionExpiryInterval: 0 });
    await w.end();
  });

  test('[MQTT-3.1.2-8] the will is published when the session ends, even before its Will Delay Interval', async () => {
    const topic = uniqueTopic('sessend');
    const w = await watcher(topic);
    const { client } = await rawConnected(tp.mqttPort, 5, {
      properties: { sessionExpiryInterval: 0 },
      will: will(topic, 'session over', { properties: { willDelayInterval: 600 } }),
    });
    client.destroy();
    const m = await w.waitMessage(topic);
    assert.equal(m.payload.toString(), 'session over');
    await w.end();
  });

  test('[MQTT-3.1.3-10][MQTT-3.3.2-4][MQTT-3.3.2-15][MQTT-3.3.2-16][MQTT-3.3.2-20] will properties are forwarded unaltered, user properties in order', async () => {
    const topic = uniqueTopic('wprops');
    const w = await watcher(topic);
    const { client } = await rawConnected(tp.mqttPort, 5, {
      will: will(topic, '{"state":"offline"}', {
        properties: {
          contentType: 'application/json',
          payloadFormatIndicator: true,
          responseTopic: `${topic}/reply`,
          correlationData: Buffer.from([1, 2, 3, 250]),
          userProperties: { zeta: '1', alpha: ['2', '3'], mid: 'x' },
        },
      }),
    });
    client.destroy();
    const m = await w.waitMessage(topic);
    const props = m.packet.properties ?? {};
    assert.equal(props.contentType, 'application/json');
    assert.equal(props.payloadFormatIndicator, true);
    assert.equal(props.responseTopic, `${topic}/reply`);
    assert.deepEqual(props.correlationData, Buffer.from([1, 2, 3, 250]));
    assert.deepEqual({ ...props.userProperties }, { zeta: '1', alpha: ['2', '3'], mid: 'x' });
    assert.deepEqual(Object.keys(props.userProperties ?? {}), ['zeta', 'alpha', 'mid'], 'order kept');
    await w.end();
  });
});
