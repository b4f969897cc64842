/**
 * 06 — Sessions: clean session / clean start, Session Present, persistent subscriptions, QoS 1/2
 * messages queued while offline (and the per-session bound, counted in /metrics), session expiry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rawConnect, rawConnected, randomClientId, type ProtocolVersion } from '../helpers/raw-client.js';
import { connectClient, elapse, eventually, httpGet, metricValue, uniqueTopic, type TestClient } from '../helpers/mqtt.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

/** Connects with the given session flags and returns Session Present (asserting success). */
async function sessionPresent(port: number, v: ProtocolVersion, clientId: string, clean: boolean, expiry?: number): Promise<boolean> {
  const { client, connack } = await rawConnected(port, v, {
    clientId,
    clean,
    ...(v === 5 && expiry !== undefined ? { properties: { sessionExpiryInterval: expiry } } : {}),
  });
  client.destroy();
  await client.waitClosed();
  return connack.sessionPresent;
}

describe('06 session', () => {
  let tp: Thingport;
  let pub: TestClient;
  before(async () => {
    tp = await startThingport();
    pub = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('pub06') });
  });
  after(async () => {
    await pub?.end();
    await tp?.stop();
  });

  test('[MQTT-3.1.2-4 (v3.1.1)][MQTT-3.2.2-2 (v3.1.1)] clean session 0: Session Present 1 on return and the subscription still delivers', async () => {
    const topic = uniqueTopic('persist4');
    const clientId = randomClientId('p4');
    const { client: first, connack } = await rawConnected(tp.mqttPort, 4, { clientId, clean: false });
    assert.equal(connack.sessionPresent, false, 'no session yet');
    await first.subscribe([{ topic, qos: 1 }]);
    await first.disconnect();
    const { client: again, connack: ack2 } = await rawConnected(tp.mqttPort, 4, { clientId, clean: false });
    assert.equal(ack2.sessionPresent, true);
    await pub.publish(topic, 'still subscribed', { qos: 1 });
    const p = await again.expect('publish');
    assert.equal(p.payload.toString(), 'still subscribed');
    await again.ack(p);
    await again.disconnect();
    assert.equal(await sessionPresent(tp.mqttPort, 4, clientId, true), false);
  });

  for (const v of [4, 5] as const) {
    test(`[MQTT-3.1.2-5 (v3.1.1)][MQTT-4.5.0-1] MQTT ${v === 4 ? '3.1.1' : '5'}: QoS 1 and 2 messages published while offline are delivered on return`, async () => {
      const topic = uniqueTopic(`offline${v}`);
      const clientId = randomClientId(`off${v}`);
      const session = v === 5 ? { properties: { sessionExpiryInterval: 300 } } : {};
      const { client: first } = await rawConnected(tp.mqttPort, v, { clientId, clean: false, ...session });
      await first.subscribe([{ topic, qos: 2 }]);
      await first.disconnect();
      await pub.publish(topic, 'q1 while away', { qos: 1 });
      await pub.publish(topic, 'q2 while away', { qos: 2 });
      const back = await rawConnect(tp.mqttPort, { protocolVersion: v });
      assert.equal((await back.connect({ clientId, clean: false, ...session })).sessionPresent, true);
      const got = await back.publishes(2);
      const byPayload = new Map(got.map((p) => [p.payload.toString(), p.qos]));
      assert.equal(byPayload.get('q1 while away'), 1);
      assert.equal(byPayload.get('q2 while away'), 2);
      for (const p of got) await back.ack(p);
      await back.disconnect();
      assert.equal(await sessionPresent(tp.mqttPort, v, clientId, true), false);
    });
  }

  test('[MQTT-3.1.2-6 (v3.1.1)][MQTT-3.2.2-1 (v3.1.1)] clean session 1 discards the stored session and its subscriptions', async () => {
    const topic = uniqueTopic('discard4');
    const clientId = randomClientId('d4');
    const { client } = await rawConnected(tp.mqttPort, 4, { clientId, clean: false });
    await client.subscribe([{ topic, qos: 1 }]);
    await client.disconnect();
    assert.equal(await sessionPresent(tp.mqttPort, 4, clientId, true), false, 'clean session: Session Present 0');
    // The clean session ended with its connection, so nothing is left to resume.
    const { client: again, connack } = await rawConnected(tp.mqttPort, 4, { clientId, clean: false });
    assert.equal(connack.sessionPresent, false);
    await pub.publish(topic, 'nobody home', { qos: 1 });
    const marker = uniqueTopic('marker');
    await again.subscribe([{ topic: marker, qos: 1 }]);
    await pub.publish(marker, 'm', { qos: 1 });
    const p = await again.expect('publish');
    assert.equal(p.topic, marker, 'the old subscription is gone');
    await again.ack(p);
    await again.disconnect();
    await sessionPresent(tp.mqttPort, 4, clientId, true);
  });

  test('[MQTT-3.1.2-4][MQTT-3.1.2-5][MQTT-3.1.2-6][MQTT-3.2.2-2][MQTT-3.2.2-3] MQTT 5 Clean Start: 0 resumes or creates, 1 discards', async () => {
    const clientId = randomClientId('cs5');
    assert.equal(await sessionPresent(tp.mqttPort, 5, clientId, false, 300), false, 'Clean Start 0, no session: new one');
    assert.equal(await sessionPresent(tp.mqttPort, 5, clientId, false, 300), true, 'Clean Start 0 with a session: resumed');
    assert.equal(await sessionPresent(tp.mqttPort, 5, clientId, true, 300), false, 'Clean Start 1: discarded');
    assert.equal(await sessionPresent(tp.mqttPort, 5, clientId, false, 0), true, 'the Clean Start 1 session (expiry 300) persisted');
    assert.equal(await sessionPresent(tp.mqttPort, 5, clientId, false, 0), false, 'expiry 0 ended it with the connection');
  });

  test('[MQTT-3.1.2-23] MQTT 5 without a Session Expiry Interval the session ends when the connection closes', async () => {
    const clientId = randomClientId('noexp');
    assert.equal(await sessionPresent(tp.mqttPort, 5, clientId, false), false);
    assert.equal(await sessionPresent(tp.mqttPort, 5, clientId, false), false);
  });

  test('[MQTT-4.1.0-2] the session is discarded once its Session Expiry Interval has passed', async () => {
    const clientId = randomClientId('exp1');
    assert.equal(await sessionPresent(tp.mqttPort, 5, clientId, false, 1), false);
    assert.equal(await sessionPresent(tp.mqttPort, 5, clientId, false, 1), true, 'within 1 s the session is there');
    await elapse(2_500);
    assert.equal(await sessionPresent(tp.mqttPort, 5, clientId, false, 1), false, 'after 1 s offline it is gone');
    await sessionPresent(tp.mqttPort, 5, clientId, true, 0);
  });

  test('[MQTT5 3.14.2.2.2] DISCONNECT with Session Expiry Interval 0 ends a session that was set to persist', async () => {
    const clientId = randomClientId('dse');
    const { client } = await rawConnected(tp.mqttPort, 5, { clientId, clean: false, properties: { sessionExpiryInterval: 300 } });
    await client.disconnect(0, { sessionExpiryInterval: 0 });
    assert.equal(await sessionPresent(tp.mqttPort, 5, clientId, false, 300), false);
    await sessionPresent(tp.mqttPort, 5, clientId, true, 0);
  });

  test('[MQTT5 3.2.2.3.2] a Session Expiry Interval above the 7-day maximum is capped and the CONNACK says so', async () => {
    const { client, connack } = await rawConnected(tp.mqttPort, 5, { properties: { sessionExpiryInterval: 10_000_000 } });
    assert.equal(connack.properties?.sessionExpiryInterval, 604_800);
    client.destroy();
  });
});

describe('06 session: configured expiry', () => {
  let tp: Thingport;
  before(async () => {
    tp = await startThingport({ args: ['--mqtt.session-expiry-seconds', '1', '--mqtt.max-session-expiry-seconds', '60'] });
  });
  after(async () => {
    await tp?.stop();
  });

  test('[MQTT5 3.2.2.3.2] the configured maximum caps a longer request (60 s)', async () => {
    const { client, connack } = await rawConnected(tp.mqttPort, 5, { properties: { sessionExpiryInterval: 3_600 } });
    assert.equal(connack.properties?.sessionExpiryInterval, 60);
    client.destroy();
  });

  test('[MQTT-4.1.0-2][AWS persistent sessions] 3.1.1 persistent sessions expire after sessionExpirySeconds (1 s here)', async () => {
    const clientId = randomClientId('exp4');
    assert.equal(await sessionPresent(tp.mqttPort, 4, clientId, false), false);
    assert.equal(await sessionPresent(tp.mqttPort, 4, clientId, false), true);
    await elapse(2_500);
    assert.equal(await sessionPresent(tp.mqttPort, 4, clientId, false), false);
    await sessionPresent(tp.mqttPort, 4, clientId, true);
  });
});

describe('06 session: offline queue bound', () => {
  let tp: Thingport;
  before(async () => {
    tp = await startThingport({ args: ['--mqtt.max-queued-messages', '5', '--mqtt.max-inflight', '2'] });
  });
  after(async () => {
    await tp?.stop();
  });

  test('[Thingport maxQueuedMessages] an offline session keeps at most the bound; every dropped message is counted in /metrics', async () => {
    const metrics = async (): Promise<number> =>
      metricValue((await httpGet(`${tp.httpUrl}/metrics`)).body, 'thingport_messages_dropped_total', { reason: 'queue_full' });
    const before0 = await metrics();
    const topic = uniqueTopic('bound');
    const clientId = randomClientId('bound');
    const sub1 = await connectClient(tp.mqttPort, { protocolVersion: 4, clientId, clean: false });
    await sub1.subscribe(topic, { qos: 1 });
    await sub1.end();
    const pub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    const sent = 20;
    for (let i = 0; i < sent; i++) await pub.publish(topic, String(i), { qos: 1 });
    // At most 5 queued plus (if the broker pre-assigns them) 2 in flight can be kept.
    await eventually(async () => (await metrics()) - before0 >= sent - 7, 3_000, 'drops counted');
    const dropped = (await metrics()) - before0;
    const kept = sent - dropped;
    assert.ok(kept >= 5 && kept <= 7, `kept ${kept} of ${sent} (dropped ${dropped}); the bound is 5 queued (+2 in flight)`);
    const sub2 = await connectClient(tp.mqttPort, { protocolVersion: 4, clientId, clean: false });
    const got = await sub2.waitMessages(topic, kept);
    // The queue is empty now; a marker shows nothing beyond `kept` was waiting.
    await pub.publish(topic, 'marker', { qos: 1 });
    await sub2.waitMessage((m) => m.payload.toString() === 'marker');
    const all = sub2.matching(topic).map((m) => m.payload.toString());
    assert.equal(all.length, kept + 1, `received ${all.join(',')}`);
    const numbers = got.map((m) => Number(m.payload.toString()));
    assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b), 'kept messages arrive in publish order');
    await sub2.end();
    await pub.end();
  });
});
