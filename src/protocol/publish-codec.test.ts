import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { decodePublish, encodePublishHeader, type PublishProperties } from './publish-codec.js';
import { RC } from './reason-codes.js';

const CASES: { name: string; version: number; qos: 0 | 1 | 2; retain: boolean; dup: boolean; topic: string; payload: Buffer; props: PublishProperties | null }[] = [
  { name: 'v4 QoS 0', version: 4, qos: 0, retain: false, dup: false, topic: 'a/b', payload: Buffer.from('hello'), props: null },
  { name: 'v4 QoS 1 retain dup', version: 4, qos: 1, retain: true, dup: true, topic: 'sensors/ü', payload: Buffer.alloc(300, 7), props: null },
  { name: 'v5 QoS 2 no properties', version: 5, qos: 2, retain: false, dup: false, topic: 'x', payload: Buffer.alloc(0), props: null },
  {
    name: 'v5 every property',
    version: 5,
    qos: 1,
    retain: false,
    dup: false,
    topic: 't/1',
    payload: Buffer.from('{}'),
    props: {
      payloadFormatIndicator: true,
      messageExpiryInterval: 3600,
      contentType: 'application/json',
      responseTopic: 'reply/here',
      correlationData: Buffer.from([9, 8, 7]),
      subscriptionIdentifier: [3, 300],
      topicAlias: 2,
      userProperties: { a: '1', b: ['x', 'y'] },
    },
  },
];

for (const c of CASES) {
  test(`publish codec: ${c.name} encodes exactly as mqtt-packet and decodes back`, () => {
    const { header, packetIdOffset } = encodePublishHeader(c.version, c.topic, c.payload.length, c.qos, c.retain, c.dup, 0x1234, c.props);
    const ours = Buffer.concat([header, c.payload]);
    // mqtt-packet is the reference: parse our bytes and check every field.
    const parser = mqttPacket.parser({ protocolVersion: c.version as 4 | 5 });
    let parsed: mqttPacket.IPublishPacket | null = null;
    parser.on('packet', (p: mqttPacket.Packet) => {
      parsed = p as mqttPacket.IPublishPacket;
    });
    parser.on('error', (e: Error) => assert.fail(e));
    parser.parse(ours);
    const p = parsed as unknown as mqttPacket.IPublishPacket;
    assert.equal(p.topic, c.topic);
    assert.deepEqual(Buffer.from(p.payload as Buffer), c.payload);
    assert.equal(p.qos, c.qos);
    assert.equal(p.retain, c.retain);
    assert.equal(p.dup, c.dup);
    if (c.qos > 0) {
      assert.equal(p.messageId, 0x1234);
      assert.equal(ours.readUInt16BE(packetIdOffset), 0x1234);
    }
    if (c.props !== null) {
      const pp = p.properties!;
      assert.equal(pp.payloadFormatIndicator, c.props.payloadFormatIndicator);
      assert.equal(pp.messageExpiryInterval, c.props.messageExpiryInterval);
      assert.equal(pp.contentType, c.props.contentType);
      assert.equal(pp.responseTopic, c.props.responseTopic);
      assert.deepEqual(Buffer.from(pp.correlationData!), c.props.correlationData);
      assert.deepEqual(pp.subscriptionIdentifier, c.props.subscriptionIdentifier);
      assert.deepEqual({ ...pp.userProperties }, c.props.userProperties);
    }
    // And our decoder reads it back (a server never receives a Subscription Identifier, so drop it).
    const forServer = c.props === null ? null : { ...c.props, subscriptionIdentifier: undefined };
    if (forServer) delete forServer.subscriptionIdentifier;
    const h2 = encodePublishHeader(c.version, c.topic, c.payload.length, c.qos, c.retain, c.dup, 0x1234, forServer).header;
    const d = decodePublish(Buffer.concat([h2, c.payload]), c.version);
    assert.notEqual(typeof d, 'number');
    const dd = d as Exclude<typeof d, number>;
    assert.equal(dd.topic, c.topic);
    assert.deepEqual(dd.payload, c.payload);
    assert.equal(dd.packetId, c.qos > 0 ? 0x1234 : 0);
    assert.deepEqual(dd.properties, forServer);
  });
}

test('[MQTT-3.3.4-6] a client PUBLISH carrying a Subscription Identifier is a protocol error', () => {
  const { header } = encodePublishHeader(5, 't', 0, 0, false, false, 0, { subscriptionIdentifier: 1 });
  assert.equal(decodePublish(header, 5), RC.PROTOCOL_ERROR);
});

test('a PUBLISH whose topic length runs past the packet is malformed', () => {
  assert.equal(decodePublish(Buffer.from([0x30, 0x03, 0x00, 0x09, 0x61]), 4), RC.MALFORMED_PACKET);
});

test('duplicate properties are a protocol error', () => {
  const raw = Buffer.from([0x30, 0x0a, 0x00, 0x01, 0x74, 0x04, 0x01, 0x01, 0x01, 0x01, 0x68, 0x69]);
  assert.equal(decodePublish(raw, 5), RC.PROTOCOL_ERROR);
});
