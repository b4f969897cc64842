/**
 * 07 — Shared subscriptions `$share/{group}/{filter}` for 3.1.1 and 5 clients: one copy per
 * group, round-robin between members, re-dispatch of an unacknowledged message when its member
 * goes away, and the filter rules.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectServerDisconnect, rawConnected, randomClientId, type RawClient } from '../helpers/raw-client.js';
import { connectClient, uniqueTopic, waitTotal, type TestClient } from '../helpers/mqtt.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

describe('07 shared subscriptions', () => {
  let tp: Thingport;
  let pub: TestClient;
  before(async () => {
    tp = await startThingport();
    pub = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('pub07') });
  });
  after(async () => {
    await pub?.end();
    await tp?.stop();
  });

  /** Publishes n QoS 1 messages "0".."n-1" and waits until the members hold n in total. */
  async function spread(members: TestClient[], topic: string, n: number): Promise<string[][]> {
    for (let i = 0; i < n; i++) await pub.publish(topic, String(i), { qos: 1 });
    return waitTotal(members, topic, n);
  }

  function assertEachOnce(got: string[][], n: number): void {
    const all = got.flat().map(Number).sort((a, b) => a - b);
    assert.deepEqual(all, Array.from({ length: n }, (_, i) => i), 'every message delivered to exactly one member');
  }

  test('[MQTT-4.8.2-1][MQTT5 4.8.2] MQTT 5: one copy per message, round-robin across the members', async () => {
    const topic = uniqueTopic('rr5');
    const members = await Promise.all([0, 1, 2].map(() => connectClient(tp.mqttPort, { protocolVersion: 5 })));
    for (const m of members) await m.subscribe(`$share/g1/${topic}`, { qos: 1 });
    const got = await spread(members, topic, 9);
    assertEachOnce(got, 9);
    assert.deepEqual(got.map((g) => g.length), [3, 3, 3], `round-robin: ${JSON.stringify(got)}`);
    for (const m of members) await m.end();
  });

  test('[AWS shared subscriptions][MQTT5 4.8.2] 3.1.1 clients share a group with MQTT 5 clients', async () => {
    const topic = uniqueTopic('rr4');
    const members = [
      await connectClient(tp.mqttPort, { protocolVersion: 4 }),
      await connectClient(tp.mqttPort, { protocolVersion: 4 }),
      await connectClient(tp.mqttPort, { protocolVersion: 5 }),
    ];
    for (const m of members) await m.subscribe(`$share/mixed/${topic}`, { qos: 1 });
    const got = await spread(members, topic, 6);
    assertEachOnce(got, 6);
    assert.deepEqual(got.map((g) => g.length), [2, 2, 2], `round-robin: ${JSON.stringify(got)}`);
    for (const m of members) await m.end();
  });

  test('[MQTT5 4.8.2] every group and every non-shared subscription gets its own copy; wildcards work inside a share', async () => {
    const base = uniqueTopic('groups');
    const a1 = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    const a2 = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    const b = await connectClient(tp.mqttPort, { protocolVersion: 4 });
    const plain = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await a1.subscribe(`$share/A/${base}/+`);
    await a2.subscribe(`$share/A/${base}/+`);
    await b.subscribe(`$share/B/${base}/#`);
    await plain.subscribe(`${base}/#`);
    for (let i = 0; i < 4; i++) await pub.publish(`${base}/x`, String(i), { qos: 1 });
    await b.waitMessages(() => true, 4);
    await plain.waitMessages(() => true, 4);
    const groupA = await Promise.all([a1, a2].map((m) => m.waitMessages(() => true, 2)));
    assert.deepEqual(groupA.flat().map((m) => m.payload.toString()).sort(), ['0', '1', '2', '3']);
    for (const c of [a1, a2, b, plain]) await c.end();
  });

  test('[MQTT-4.8.2-3][MQTT-3.8.4-8] a member gets the message at its own granted QoS', async () => {
    const topic = uniqueTopic('sqos');
    const { client } = await rawConnected(tp.mqttPort, 5);
    assert.deepEqual(await client.subscribe([{ topic: `$share/q/${topic}`, qos: 0 }]), [0]);
    await pub.publish(topic, 'x', { qos: 2 });
    const p = await client.expect('publish');
    assert.equal(p.qos, 0);
    client.destroy();
  });

  for (const v of [4, 5] as const) {
    test(`[MQTT5 4.8.2] a message unacknowledged by a ${v === 4 ? '3.1.1' : 'MQTT 5'} member that disconnects is delivered to another member`, async () => {
      const topic = uniqueTopic(`redispatch${v}`);
      // The silent member never acknowledges; its session ends with its connection.
      const { client: silent }: { client: RawClient } = await rawConnected(tp.mqttPort, v, { clean: true });
      assert.deepEqual(await silent.subscribe([{ topic: `$share/rd/${topic}`, qos: 1 }]), [1]);
      const other = await connectClient(tp.mqttPort, { protocolVersion: 5 });
      await other.subscribe(`$share/rd/${topic}`, { qos: 1 });
      // Round-robin: of two messages, one goes to each member.
      await pub.publish(topic, 'm0', { qos: 1 });
      await pub.publish(topic, 'm1', { qos: 1 });
      const held = await silent.expect('publish');
      await other.waitMessages(topic, 1);
      silent.destroy();
      const got = await other.waitMessages(topic, 2);
      assert.deepEqual(got.map((m) => m.payload.toString()).sort(), ['m0', 'm1']);
      assert.ok(got.some((m) => m.payload.toString() === held.payload.toString()), 'the held message was re-dispatched');
      await other.end();
    });
  }

  test('[MQTT5 3.3.1.3] retained messages are not sent when a shared subscription is made', async () => {
    const topic = uniqueTopic('sretain');
    await pub.publish(topic, 'retained', { qos: 1, retain: true });
    const m = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await m.subscribe(`$share/r/${topic}`);
    await pub.publish(topic, 'live', { qos: 1 });
    await m.waitMessage(topic);
    assert.deepEqual(m.matching(topic).map((r) => r.payload.toString()), ['live']);
    await pub.publish(topic, '', { qos: 1, retain: true });
    await m.end();
  });

  test('[MQTT-3.10.4-1] unsubscribing from the shared filter leaves the group', async () => {
    const topic = uniqueTopic('sunsub');
    const leaver = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    const stayer = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await leaver.subscribe(`$share/u/${topic}`);
    await stayer.subscribe(`$share/u/${topic}`);
    await leaver.unsubscribe(`$share/u/${topic}`);
    for (let i = 0; i < 4; i++) await pub.publish(topic, String(i), { qos: 1 });
    await stayer.waitMessages(topic, 4);
    assert.equal(leaver.matching(topic).length, 0);
    await leaver.end();
    await stayer.end();
  });

  for (const filter of ['$share/g', '$share//t/x', '$share/a+b/t', '$share/a#/t']) {
    test(`[MQTT-4.8.2-1][MQTT-4.8.2-2] invalid shared filter ${JSON.stringify(filter)} is refused (SUBACK or DISCONNECT >= 0x80)`, async () => {
      const { client } = await rawConnected(tp.mqttPort, 5);
      client.sendPacket({ cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: filter, qos: 1 }] });
      const p = await client.nextPacket();
      if (p.cmd === 'suback') {
        const [code] = p.granted as number[];
        assert.ok(code >= 0x80, `granted ${code} for an invalid shared filter`);
        client.destroy();
      } else {
        assert.equal(p.cmd, 'disconnect', `unexpected ${p.cmd}`);
        assert.ok((p.reasonCode ?? 0) >= 0x80);
        await client.waitClosed();
      }
    });
  }

  test('[MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error: DISCONNECT 0x82', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5);
    client.sendPacket({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: `$share/nl/${uniqueTopic('nl')}`, qos: 1, nl: true }] });
    await expectServerDisconnect(client, 0x82);
  });
});
