import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Framer } from './framer.js';
import { RC } from './reason-codes.js';

function frame(max = 1000): { f: Framer; packets: Buffer[] } {
  const packets: Buffer[] = [];
  return { f: new Framer(max, { onPacket: (p) => packets.push(Buffer.from(p)) }), packets };
}

test('framer: several packets in one chunk and one packet split across chunks', () => {
  const { f, packets } = frame();
  const ping = [0xc0, 0x00];
  const pub = [0x30, 0x05, 0x00, 0x01, 0x61, 0x68, 0x69];
  assert.equal(f.push(Buffer.from([...ping, ...pub, ...ping])), 0);
  assert.equal(packets.length, 3);
  assert.equal(f.push(Buffer.from(pub.slice(0, 3))), 0);
  assert.equal(f.buffered, 3);
  assert.equal(f.push(Buffer.from(pub.slice(3))), 0);
  assert.deepEqual(packets[3], Buffer.from(pub));
});

test('[MQTT-1.5.5-1] a Remaining Length longer than 4 bytes is malformed', () => {
  const { f } = frame(1 << 30);
  assert.equal(f.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), RC.MALFORMED_PACKET);
});

test('[MQTT-2.1.3-1] reserved fixed-header flags are malformed', () => {
  assert.equal(frame().f.push(Buffer.from([0x80, 0x00])), RC.MALFORMED_PACKET, 'SUBSCRIBE must have flags 0010');
  assert.equal(frame().f.push(Buffer.from([0xc1, 0x00])), RC.MALFORMED_PACKET, 'PINGREQ flags 0000');
  assert.equal(frame().f.push(Buffer.from([0x00, 0x00])), RC.MALFORMED_PACKET, 'packet type 0 is reserved');
  assert.equal(frame().f.push(Buffer.from([0x36, 0x00])), RC.MALFORMED_PACKET, '[MQTT-3.3.1-4] QoS 3');
});

test('a packet over the maximum size is refused before its body arrives', () => {
  const { f, packets } = frame(100);
  assert.equal(f.push(Buffer.from([0x30, 0xe8, 0x07])), RC.PACKET_TOO_LARGE);
  assert.equal(packets.length, 0);
});
