/**
 * 01 — CONNECT / CONNACK: protocol name and level, client identifiers, keep-alive, takeover,
 * authentication methods, and who is admitted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { rawConnectPacket, rawPublish } from '../helpers/raw-bytes.js';
import {
  expectClosed,
  expectServerDisconnect,
  hex,
  rawConnect,
  rawConnected,
  randomClientId,
  type RawClient,
} from '../helpers/raw-client.js';
import { connectClient, elapse, uniqueTopic } from '../helpers/mqtt.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

describe('01 connect', () => {
  let tp: Thingport;
  before(async () => {
    tp = await startThingport();
  });
  after(async () => {
    await tp?.stop();
  });

  test('[MQTT-3.1.0-1] the first packet must be CONNECT: a PUBLISH first closes the connection without CONNACK', async () => {
    const c = await rawConnect(tp.mqttPort);
    c.sendPacket({ cmd: 'publish', topic: 'a/b', payload: 'x', qos: 0, dup: false, retain: false });
    const seen = await expectClosed(c);
    assert.deepEqual(seen.map((p) => p.cmd), [], 'nothing may be sent before the close');
  });

  test('[MQTT-3.1.2-2] protocol level 6: CONNACK 0x84 (Unsupported Protocol Version), then the connection closes', async () => {
    const c = await rawConnect(tp.mqttPort, { protocolVersion: 5 });
    c.send(rawConnectPacket({ level: 6, clientId: randomClientId() }));
    await c.waitClosed();
    assert.ok(c.received.length >= 4, `expected a CONNACK before the close, got ${c.received.toString('hex') || 'nothing'}`);
    assert.equal(c.received[0], 0x20, 'first packet is CONNACK');
    assert.equal(c.received[3], 0x84, `CONNACK reason ${hex(c.received[3])}`);
  });

  test('[MQTT-3.1.2-1] protocol name other than "MQTT": never accepted, connection closed', async () => {
    const c = await rawConnect(tp.mqttPort, { protocolVersion: 5 });
    c.send(rawConnectPacket({ protocolName: 'MQTX', level: 5, clientId: randomClientId() }));
    await c.waitClosed();
    if (c.received.length > 0) {
      assert.equal(c.received[0], 0x20, 'only a CONNACK may precede the close');
      assert.equal(c.received[3], 0x84, `CONNACK reason ${hex(c.received[3])}`);
    }
  });

  test('[MQTT-3.2.2-2][MQTT-3.2.2-9] MQTT 5 CONNACK: success, Session Present 0 on clean start, AWS limits advertised', async () => {
    const { client, connack } = await rawConnected(tp.mqttPort, 5, { clean: true });
    assert.equal(connack.sessionPresent, false);
    const props = connack.properties ?? {};
    assert.equal(props.receiveMaximum, 100, 'Receive Maximum (AWS: 100 in flight)');
    assert.equal(props.topicAliasMaximum, 8, 'Topic Alias Maximum (AWS: 8)');
    assert.equal(props.maximumPacketSize, 139_264, 'Maximum Packet Size (128 KiB payload + 8 KiB)');
    assert.equal(props.maximumQoS, undefined, 'QoS 2 is supported by default, so no Maximum QoS is sent');
    assert.notEqual(props.retainAvailable, false, 'retain available');
    assert.notEqual(props.wildcardSubscriptionAvailable, false, 'wildcards available');
    assert.notEqual(props.sharedSubscriptionAvailable, false, 'shared subscriptions available');
    assert.notEqual(props.subscriptionIdentifiersAvailable, false, 'subscription identifiers available (default profile)');
    assert.equal(props.authenticationMethod, undefined, '[MQTT-4.12.0-6] no Authentication Method in CONNACK');
    client.destroy();
  });

  test('[MQTT-3.1.3-5] client ids with spaces and non-ASCII UTF-8 are accepted and work end to end', async () => {
    for (const clientId of ['my device 01', 'Gerät-ä/ö #1 ✓']) {
      const topic = uniqueTopic('spaces');
      const sub = await connectClient(tp.mqttPort, { clientId, protocolVersion: 5 });
      await sub.subscribe(topic);
      const pub = await connectClient(tp.mqttPort, { protocolVersion: 4 });
      await pub.publish(topic, 'hello', { qos: 1 });
      const m = await sub.waitMessage(topic);
      assert.equal(m.payload.toString(), 'hello');
      await sub.end();
      await pub.end();
    }
  });

  test('[MQTT-3.1.3-6][MQTT-3.1.3-7][MQTT-3.2.2-16] MQTT 5 empty client id: a unique Assigned Client Identifier in CONNACK', async () => {
    const a = await rawConnected(tp.mqttPort, 5, { clientId: '' });
    const b = await rawConnected(tp.mqttPort, 5, { clientId: '' });
    const idA = a.connack.properties?.assignedClientIdentifier;
    const idB = b.connack.properties?.assignedClientIdentifier;
    assert.equal(typeof idA, 'string');
    assert.ok(idA && idA.length > 0, 'assigned id is not empty');
    assert.notEqual(idA, idB, 'assigned ids are unique');
    // Both connections stay up: neither took the other over.
    await a.client.ping();
    await b.client.ping();
    a.client.destroy();
    b.client.destroy();
  });

  test('[MQTT-3.1.3-8 (v3.1.1)] empty client id with clean session 0: CONNACK 0x02 (Identifier rejected), then close', async () => {
    const c = await rawConnect(tp.mqttPort, { protocolVersion: 4 });
    // mqtt-packet refuses to encode this CONNECT, so it is built by hand: flags 0x00 = clean session 0.
    c.send(rawConnectPacket({ level: 4, flags: 0x00, clientId: '' }));
    const connack = await c.expect('connack');
    assert.equal(connack.returnCode, 0x02, `return code ${hex(connack.returnCode ?? -1)}`);
    assert.equal(connack.sessionPresent, false);
    await c.waitClosed();
  });

  test('[MQTT-3.1.3-6 (v3.1.1)] empty client id with clean session 1 is accepted and can publish and subscribe', async () => {
    const { client } = await rawConnected(tp.mqttPort, 4, { clientId: '', clean: true });
    const topic = uniqueTopic('emptyid');
    assert.deepEqual(await client.subscribe([{ topic, qos: 1 }]), [1]);
    await client.publish(topic, 'me', { qos: 1 });
    const p = await client.expect('publish');
    assert.equal(p.payload.toString(), 'me');
    client.destroy();
  });

  test('[MQTT-3.1.3-8][MQTT-3.2.2-6][MQTT-3.2.2-7] client id over 128 bytes (MQTT 5): CONNACK 0x85, Session Present 0, close', async () => {
    const c = await rawConnect(tp.mqttPort, { protocolVersion: 5 });
    const connack = await c.connect({ clientId: 'x'.repeat(129) });
    assert.equal(connack.reasonCode, 0x85, `reason ${hex(connack.reasonCode ?? -1)}`);
    assert.equal(connack.sessionPresent, false);
    await c.waitClosed();
  });

  test('[MQTT-3.1.3-9 (v3.1.1)] client id over 128 bytes (3.1.1): CONNACK 0x02, then close; 128 bytes is accepted', async () => {
    const c = await rawConnect(tp.mqttPort, { protocolVersion: 4 });
    const connack = await c.connect({ clientId: 'y'.repeat(129) });
    assert.equal(connack.returnCode, 0x02, `return code ${hex(connack.returnCode ?? -1)}`);
    await c.waitClosed();
    const ok = await rawConnected(tp.mqttPort, 4, { clientId: 'y'.repeat(128) });
    ok.client.destroy();
  });

  test('[MQTT-3.1.4-6] after a refused CONNECT, packets sent behind it are not processed', async () => {
    const topic = uniqueTopic('refused');
    const watcher = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await watcher.subscribe(topic);
    const c = await rawConnect(tp.mqttPort, { protocolVersion: 5 });
    // One write: the refused CONNECT and a PUBLISH right behind it.
    c.send(
      Buffer.concat([
        rawConnectPacket({ level: 5, clientId: 'z'.repeat(200) }),
        rawPublish(topic, 'evil', { protocolVersion: 5 }),
      ]),
    );
    await c.waitClosed();
    // A marker on the same topic from a good client arrives; the smuggled message must not precede it.
    const pub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await pub.publish(topic, 'marker', { qos: 1 });
    await watcher.waitMessage(topic);
    assert.deepEqual(watcher.matching(topic).map((m) => m.payload.toString()), ['marker']);
    await pub.end();
    await watcher.end();
  });

  test('[MQTT-3.12.4-1] PINGREQ is answered with PINGRESP (3.1.1 and 5)', async () => {
    for (const v of [4, 5] as const) {
      const { client } = await rawConnected(tp.mqttPort, v);
      await client.ping();
      await client.ping();
      client.destroy();
    }
  });

  test('[MQTT-3.1.2-24 (v3.1.1)] keep-alive: silence for 1.5x Keep Alive closes the connection', async () => {
    const { client } = await rawConnected(tp.mqttPort, 4, { keepalive: 1 });
    const t0 = Date.now();
    await client.waitClosed(5_000);
    const took = Date.now() - t0;
    assert.ok(took >= 1_000, `closed after ${took} ms: too early for a 1 s keep-alive`);
  });

  test('[MQTT-3.1.2-22] keep-alive (MQTT 5): packets within the period keep the connection; then 1.5x silence closes it', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5, { keepalive: 1 });
    // 2.4 s of traffic every 0.6 s: longer than 1.5 x 1 s in total, but never silent for long.
    for (let i = 0; i < 4; i++) {
      await elapse(600);
      await client.ping();
    }
    assert.equal(client.closed, false, 'a client that keeps talking stays connected');
    const t0 = Date.now();
    await client.waitClosed(5_000);
    const took = Date.now() - t0;
    assert.ok(took >= 1_000, `closed after ${took} ms of silence: too early`);
  });

  test('[MQTT-3.2.2-21][MQTT-3.2.2-22] Server Keep Alive: 0 or above the 1200 s maximum is replaced by 1200; a value within it stands', async () => {
    for (const [asked, expected] of [
      [0, 1_200],
      [3_000, 1_200],
    ] as const) {
      const { client, connack } = await rawConnected(tp.mqttPort, 5, { keepalive: asked });
      assert.equal(connack.properties?.serverKeepAlive, expected, `keepalive ${asked}`);
      client.destroy();
    }
    const { client, connack } = await rawConnected(tp.mqttPort, 5, { keepalive: 60 });
    const ska = connack.properties?.serverKeepAlive;
    assert.ok(ska === undefined || ska === 60, `keepalive 60 within the limit, got Server Keep Alive ${ska}`);
    client.destroy();
  });

  test('[MQTT-3.1.4-2 (v3.1.1)] takeover: a second connection with the same client id closes the first', async () => {
    const clientId = randomClientId('take');
    const first = await rawConnected(tp.mqttPort, 4, { clientId });
    const second = await rawConnected(tp.mqttPort, 4, { clientId });
    await expectServerDisconnect(first.client, []);
    await second.client.ping();
    second.client.destroy();
  });

  test('[MQTT-3.1.4-3] takeover (MQTT 5): the old connection gets DISCONNECT 0x8E (Session taken over), then is closed', async () => {
    const clientId = randomClientId('take5');
    const first = await rawConnected(tp.mqttPort, 5, { clientId });
    const second = await rawConnected(tp.mqttPort, 5, { clientId });
    await expectServerDisconnect(first.client, 0x8e);
    await second.client.ping();
    second.client.destroy();
  });

  test('[MQTT-3.2.2-8] bad user name or password: CONNACK 0x86 / 0x04', (t) => {
    // Loopback admits anonymous clients and there is no credential store before the identity
    // issue, so no user name can be refused yet. Not refused from other addresses either: see
    // the 0x87 test below, which is what an unknown client gets there.
    t.skip('no credential store until the identity issue: user names are not checked yet');
  });

  test('[MQTT-4.12.0-1] CONNECT with an Authentication Method when none is configured: CONNACK 0x8C (Bad authentication method), close', async () => {
    const c = await rawConnect(tp.mqttPort, { protocolVersion: 5 });
    const connack = await c.connect({
      clientId: randomClientId(),
      properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: Buffer.from('n,,n=user,r=abc') },
    });
    assert.equal(connack.reasonCode, 0x8c, `reason ${hex(connack.reasonCode ?? -1)}`);
    assert.equal(connack.sessionPresent, false);
    await c.waitClosed();
  });

  test('[MQTT-4.12.0-7] AUTH from a client that did not start enhanced authentication: DISCONNECT (0x82 or 0x8C), close', async () => {
    const { client } = await rawConnected(tp.mqttPort, 5);
    client.sendPacket({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'SCRAM-SHA-256' } });
    // A Protocol Error [MQTT-4.13.1-1]; 0x8C names the cause more precisely. Both are valid.
    await expectServerDisconnect(client, [0x82, 0x8c]);
  });
});

/** A non-loopback IPv4 address of this machine, if any. */
function externalAddress(): string | null {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}

describe('01 connect: anonymous clients off loopback', () => {
  const address = externalAddress();

  test('[MQTT-3.1.4-2] anonymous client from a non-loopback address: CONNACK 0x87 (MQTT 5) / 0x05 (3.1.1) unless allowAnonymous', async (t) => {
    if (!address) {
      t.skip('no non-loopback IPv4 interface on this machine');
      return;
    }
    const tp = await startThingport({ args: ['--host', '0.0.0.0'] });
    try {
      const c5: RawClient = await rawConnect(tp.mqttPort, { host: address, protocolVersion: 5 });
      const ack5 = await c5.connect({ clientId: randomClientId() });
      assert.equal(ack5.reasonCode, 0x87, `MQTT 5 reason ${hex(ack5.reasonCode ?? -1)}`);
      await c5.waitClosed();
      const c4 = await rawConnect(tp.mqttPort, { host: address, protocolVersion: 4 });
      const ack4 = await c4.connect({ clientId: randomClientId() });
      assert.equal(ack4.returnCode, 0x05, `3.1.1 return code ${hex(ack4.returnCode ?? -1)}`);
      await c4.waitClosed();
      // Loopback is still admitted.
      (await rawConnected(tp.mqttPort, 5)).client.destroy();
    } finally {
      await tp.stop();
    }
    const open = await startThingport({ args: ['--host', '0.0.0.0', '--allow-anonymous'] });
    try {
      const { client } = await rawConnected(open.mqttPort, 5, {}, address);
      await client.ping();
      client.destroy();
    } finally {
      await open.stop();
    }
  });
});
