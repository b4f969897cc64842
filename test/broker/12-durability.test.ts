/**
 * 12 — Durability: sessions, subscriptions, retained messages and queued or in-flight QoS 1/2
 * messages survive a graceful restart and a `kill -9`. A message whose PUBACK/PUBREC the
 * publisher received reaches every matching persistent session after the broker comes back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rawConnect, rawConnected, randomClientId, type ProtocolVersion, type RawClient } from '../helpers/raw-client.js';
import { connectClient, uniqueTopic } from '../helpers/mqtt.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

/** CONNECT fields for a persistent session of either version. */
function persistent(v: ProtocolVersion, clientId: string): { clientId: string; clean: false; properties?: { sessionExpiryInterval: number } } {
  return v === 5 ? { clientId, clean: false, properties: { sessionExpiryInterval: 3_600 } } : { clientId, clean: false };
}

/** Reconnects to a persistent session, asserting Session Present. */
async function resume(tp: Thingport, v: ProtocolVersion, clientId: string): Promise<RawClient> {
  const c = await rawConnect(tp.mqttPort, { protocolVersion: v });
  const connack = await c.connect(persistent(v, clientId));
  assert.equal(connack.reasonCode ?? connack.returnCode, 0);
  assert.equal(connack.sessionPresent, true, `session ${clientId} (MQTT ${v}) survived`);
  return c;
}

/** Drains PUBLISH packets (acknowledging them) until one with the payload arrives; returns the payloads seen. */
async function payloadsUntil(c: RawClient, last: string): Promise<string[]> {
  const seen: string[] = [];
  for (;;) {
    const p = await c.expect('publish', 5_000);
    await c.ack(p);
    seen.push(p.payload.toString());
    if (seen.includes(last)) return seen;
  }
}

describe('12 durability', () => {
  let tp: Thingport;
  before(async () => {
    tp = await startThingport();
  });
  after(async () => {
    await tp?.stop();
  });

  for (const how of ['restart', 'kill -9'] as const) {
    test(`[Issue 2 §3] ${how}: persistent sessions keep their subscriptions; retained messages are kept`, async () => {
      const topic = uniqueTopic('subs');
      const ids = { 4: randomClientId('d4'), 5: randomClientId('d5') };
      for (const v of [4, 5] as const) {
        const { client } = await rawConnected(tp.mqttPort, v, persistent(v, ids[v]));
        await client.subscribe([{ topic, qos: 1 }]);
        await client.disconnect();
      }
      const pub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
      await pub.publish(`${topic}/retained`, 'kept across restarts', { qos: 1, retain: true });
      await pub.end();
      if (how === 'restart') await tp.restart();
      else {
        await tp.kill9();
        await tp.start();
      }
      const subs = [await resume(tp, 4, ids[4]), await resume(tp, 5, ids[5])];
      const pub2 = await connectClient(tp.mqttPort, { protocolVersion: 4 });
      await pub2.publish(topic, 'after', { qos: 1 });
      for (const c of subs) {
        assert.deepEqual(await payloadsUntil(c, 'after'), ['after'], 'the stored subscription delivers without re-subscribing');
        await c.disconnect();
      }
      const later = await connectClient(tp.mqttPort, { protocolVersion: 5 });
      await later.subscribe(`${topic}/retained`);
      assert.equal((await later.waitMessage(`${topic}/retained`)).payload.toString(), 'kept across restarts');
      await later.end();
      await pub2.end();
    });

    test(`[Issue 2 §3][MQTT-3.1.2-5 (v3.1.1)] ${how}: acknowledged QoS 1 and QoS 2 messages reach every offline persistent session`, async () => {
      const topic = uniqueTopic('queued');
      const ids = { 4: randomClientId('q4'), 5: randomClientId('q5') };
      for (const v of [4, 5] as const) {
        const { client } = await rawConnected(tp.mqttPort, v, persistent(v, ids[v]));
        await client.subscribe([{ topic, qos: 2 }]);
        await client.disconnect();
      }
      const { client: pub } = await rawConnected(tp.mqttPort, 5);
      // publish() resolves once PUBACK (QoS 1) / PUBREC+PUBCOMP (QoS 2) came back.
      await pub.publish(topic, 'q1', { qos: 1 });
      await pub.publish(topic, 'q2', { qos: 2 });
      if (how === 'restart') await tp.restart();
      else {
        await tp.kill9();
        await tp.start();
      }
      for (const v of [4, 5] as const) {
        const c = await resume(tp, v, ids[v]);
        const got = await c.publishes(2, 5_000);
        assert.deepEqual(got.map((p) => `${p.payload.toString()}@${p.qos}`).sort(), ['q1@1', 'q2@2'], `MQTT ${v}`);
        for (const p of got) await c.ack(p);
        await c.disconnect(0, v === 5 ? { sessionExpiryInterval: 0 } : undefined);
      }
    });
  }

  test('[Issue 2 §3] kill -9 right after PUBACK: the message is not lost', async () => {
    const topic = uniqueTopic('crash');
    const clientId = randomClientId('crash');
    const { client: sub } = await rawConnected(tp.mqttPort, 4, persistent(4, clientId));
    await sub.subscribe([{ topic, qos: 1 }]);
    await sub.disconnect();
    const { client: pub } = await rawConnected(tp.mqttPort, 4);
    const n = 20;
    for (let i = 0; i < n; i++) await pub.publish(topic, `m${i}`, { qos: 1 });
    // No pause: the broker dies as soon as the last PUBACK is in.
    await tp.kill9();
    await tp.start();
    const c = await resume(tp, 4, clientId);
    const got = await payloadsUntil(c, `m${n - 1}`);
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => `m${i}`));
    await c.disconnect();
  });

  test('[Issue 2 §3][MQTT-4.4.0-1] kill -9 with a delivery in flight: it is resent with DUP 1 and its packet id after the restart', async () => {
    const topic = uniqueTopic('inflight');
    const clientId = randomClientId('infl');
    const { client: sub } = await rawConnected(tp.mqttPort, 5, persistent(5, clientId));
    await sub.subscribe([{ topic, qos: 1 }]);
    const pub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await pub.publish(topic, 'unacked', { qos: 1 });
    const first = await sub.expect('publish');
    await pub.end();
    await tp.kill9();
    await sub.waitClosed();
    await tp.start();
    const c = await resume(tp, 5, clientId);
    const again = await c.expect('publish', 5_000);
    assert.equal(again.payload.toString(), 'unacked');
    assert.equal(again.dup, true, 'DUP on redelivery');
    assert.equal(again.messageId, first.messageId, 'original packet id');
    await c.ack(again);
    await c.disconnect(0, { sessionExpiryInterval: 0 });
  });

  test('[Issue 2 §3][MQTT-4.3.3-10] kill -9 between PUBREC and PUBREL: the publisher completes after the restart; delivered exactly once', async () => {
    const topic = uniqueTopic('q2crash');
    const subId = randomClientId('q2s');
    const pubId = randomClientId('q2p');
    const { client: sub } = await rawConnected(tp.mqttPort, 5, persistent(5, subId));
    await sub.subscribe([{ topic, qos: 2 }]);
    await sub.disconnect();
    const { client: p1 } = await rawConnected(tp.mqttPort, 5, persistent(5, pubId));
    p1.sendPacket({ cmd: 'publish', topic, payload: 'exactly once', qos: 2, dup: false, retain: false, messageId: 42 });
    await p1.takeAck('pubrec', 42);
    await tp.kill9();
    await p1.waitClosed();
    await tp.start();
    const p2 = await resume(tp, 5, pubId);
    p2.sendPacket({ cmd: 'pubrel', messageId: 42 });
    const comp = await p2.takeAck('pubcomp', 42);
    assert.equal(comp.reasonCode ?? 0, 0, 'the PUBREC state survived: PUBCOMP Success, not 0x92 Packet Identifier not found');
    await p2.publish(topic, 'marker', { qos: 2 });
    const s2 = await resume(tp, 5, subId);
    assert.deepEqual(await payloadsUntil(s2, 'marker'), ['exactly once', 'marker']);
    await s2.ping();
    assert.deepEqual(s2.pending().filter((p) => p.cmd === 'publish'), [], 'no second copy');
    await s2.disconnect(0, { sessionExpiryInterval: 0 });
    await p2.disconnect(0, { sessionExpiryInterval: 0 });
  });

  test('[Issue 2 §1] SIGTERM exits with code 0; the data directory is reused by the next start', async () => {
    const dataDir = tp.dataDir;
    const code = await tp.terminate('SIGTERM');
    assert.equal(code, 0);
    await tp.start();
    assert.equal(tp.dataDir, dataDir);
    assert.equal(tp.endpoints.pid, tp.pid);
  });
});
