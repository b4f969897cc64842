/**
 * 11 — AWS IoT lifecycle events published by the broker: presence connected/disconnected (with
 * AWS's disconnect reasons) and subscriptions subscribed/unsubscribed, with AWS's payload fields.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rawPublish } from '../helpers/raw-bytes.js';
import { expectServerDisconnect, rawConnected, randomClientId } from '../helpers/raw-client.js';
import { connectClient, uniqueTopic, type TestClient } from '../helpers/mqtt.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

interface LifecycleEvent {
  clientId: string;
  timestamp: number;
  eventType: string;
  sessionIdentifier: string;
  principalIdentifier: string;
  ipAddress: string;
  versionNumber: number;
  clientInitiatedDisconnect?: boolean;
  disconnectReason?: string;
  topics?: string[];
}

const connectedTopic = (id: string): string => `$aws/events/presence/connected/${id}`;
const disconnectedTopic = (id: string): string => `$aws/events/presence/disconnected/${id}`;

describe('11 lifecycle events', () => {
  let tp: Thingport;
  let events: TestClient;
  before(async () => {
    tp = await startThingport();
    events = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('events') });
    // '#' never matches $-topics [MQTT-4.7.2-1]: the event topics are subscribed explicitly.
    await events.subscribe(['$aws/events/presence/+/+', '$aws/events/subscriptions/+/+'], { qos: 1 });
  });
  after(async () => {
    await events?.end();
    await tp?.stop();
  });

  async function nextEvent(topic: string, index = 0): Promise<LifecycleEvent> {
    const all = await events.waitMessages(topic, index + 1, 6_000);
    return JSON.parse(all[index].payload.toString()) as LifecycleEvent;
  }

  /** The fields every event has; presence events add ipAddress and versionNumber. */
  function assertCommonFields(e: LifecycleEvent, clientId: string, eventType: string, t0: number, presence = true): void {
    assert.equal(e.clientId, clientId);
    assert.equal(e.eventType, eventType);
    assert.equal(typeof e.timestamp, 'number');
    assert.ok(e.timestamp >= t0 - 1_000 && e.timestamp <= Date.now() + 1_000, `timestamp ${e.timestamp} is epoch milliseconds of now`);
    assert.equal(typeof e.sessionIdentifier, 'string');
    assert.ok(e.sessionIdentifier.length > 0);
    assert.equal(typeof e.principalIdentifier, 'string');
    if (!presence) return;
    assert.equal(e.ipAddress, '127.0.0.1');
    assert.equal(typeof e.versionNumber, 'number');
  }

  for (const v of [4, 5] as const) {
    test(`[AWS lifecycle events] MQTT ${v === 4 ? '3.1.1' : '5'}: connected, then disconnected with CLIENT_INITIATED_DISCONNECT on DISCONNECT`, async () => {
      const clientId = randomClientId(`lc${v}`);
      const t0 = Date.now();
      const { client } = await rawConnected(tp.mqttPort, v, { clientId });
      const connected = await nextEvent(connectedTopic(clientId));
      assertCommonFields(connected, clientId, 'connected', t0);
      assert.equal(connected.disconnectReason, undefined);
      await client.disconnect();
      const disconnected = await nextEvent(disconnectedTopic(clientId));
      assertCommonFields(disconnected, clientId, 'disconnected', t0);
      assert.equal(disconnected.clientInitiatedDisconnect, true);
      assert.equal(disconnected.disconnectReason, 'CLIENT_INITIATED_DISCONNECT');
      assert.equal(disconnected.sessionIdentifier, connected.sessionIdentifier, 'same session in both events');
      assert.ok(disconnected.timestamp >= connected.timestamp);
    });
  }

  test('[AWS lifecycle events] a dropped connection: disconnected with CONNECTION_LOST', async () => {
    const clientId = randomClientId('lost');
    const { client } = await rawConnected(tp.mqttPort, 4, { clientId });
    await nextEvent(connectedTopic(clientId));
    client.destroy();
    const e = await nextEvent(disconnectedTopic(clientId));
    assert.equal(e.disconnectReason, 'CONNECTION_LOST');
    assert.equal(typeof e.clientInitiatedDisconnect, 'boolean');
  });

  test('[AWS lifecycle events][MQTT-3.1.4-3] takeover: the old connection is reported with DUPLICATE_CLIENTID, not client-initiated', async () => {
    const clientId = randomClientId('dup');
    const first = await rawConnected(tp.mqttPort, 5, { clientId });
    const c1 = await nextEvent(connectedTopic(clientId));
    const second = await rawConnected(tp.mqttPort, 5, { clientId });
    await expectServerDisconnect(first.client, 0x8e);
    const d = await nextEvent(disconnectedTopic(clientId));
    assert.equal(d.disconnectReason, 'DUPLICATE_CLIENTID');
    assert.equal(d.clientInitiatedDisconnect, false);
    const c2 = await nextEvent(connectedTopic(clientId), 1);
    assert.ok(c2.versionNumber > c1.versionNumber, `versionNumber grows per connection: ${c1.versionNumber} then ${c2.versionNumber}`);
    second.client.destroy();
  });

  test('[AWS lifecycle events] keep-alive timeout: disconnected with MQTT_KEEP_ALIVE_TIMEOUT', async () => {
    const clientId = randomClientId('kato');
    await rawConnected(tp.mqttPort, 4, { clientId, keepalive: 1 });
    const e = await nextEvent(disconnectedTopic(clientId));
    assert.equal(e.disconnectReason, 'MQTT_KEEP_ALIVE_TIMEOUT');
    assert.equal(e.clientInitiatedDisconnect, false);
  });

  test('[AWS lifecycle events] a protocol error: disconnected with CLIENT_ERROR', async () => {
    const clientId = randomClientId('err');
    const { client } = await rawConnected(tp.mqttPort, 5, { clientId });
    client.send(rawPublish('bad/#', 'x', { protocolVersion: 5 }));
    await expectServerDisconnect(client, [0x90, 0x82]);
    const e = await nextEvent(disconnectedTopic(clientId));
    assert.equal(e.disconnectReason, 'CLIENT_ERROR');
    assert.equal(e.clientInitiatedDisconnect, false);
  });

  test('[AWS lifecycle events] subscribed / unsubscribed events list the topic filters', async () => {
    const clientId = randomClientId('subev');
    const a = uniqueTopic('ev-a');
    const b = `${uniqueTopic('ev-b')}/+`;
    const t0 = Date.now();
    const c = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId });
    await c.subscribe([a, b]);
    const sub = await nextEvent(`$aws/events/subscriptions/subscribed/${clientId}`);
    assertCommonFields(sub, clientId, 'subscribed', t0, false);
    assert.deepEqual([...(sub.topics ?? [])].sort(), [a, b].sort());
    await c.unsubscribe(b);
    const unsub = await nextEvent(`$aws/events/subscriptions/unsubscribed/${clientId}`);
    assertCommonFields(unsub, clientId, 'unsubscribed', t0, false);
    assert.deepEqual(unsub.topics, [b]);
    await c.end();
  });

  test('[AWS lifecycle events] client ids containing "#" or "+" produce no events', async () => {
    const odd = [`dev#${randomClientId()}`, `dev+${randomClientId()}`];
    for (const clientId of odd) {
      const c = await connectClient(tp.mqttPort, { protocolVersion: 4, clientId });
      await c.subscribe(uniqueTopic('odd'));
      await c.end();
    }
    // Events are published in order: once a later client's event is here, none for the odd ids is coming.
    const sentinel = randomClientId('after');
    const s = await connectClient(tp.mqttPort, { protocolVersion: 4, clientId: sentinel });
    await nextEvent(connectedTopic(sentinel));
    const mentioning = events.messages.filter((m) => odd.some((id) => m.topic.endsWith(id) || m.payload.toString().includes(id)));
    assert.deepEqual(mentioning.map((m) => m.topic), []);
    await s.end();
  });
});
