/**
 * 13 — Transports: MQTT over WebSocket at /mqtt on the HTTP port, MQTT over TLS, and secure
 * WebSocket on the HTTPS port, with the private root CA from endpoints.json. Every transport
 * reaches the same broker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import WebSocket from 'ws';
import { encodePacket, randomClientId } from '../helpers/raw-client.js';
import { connectClient, uniqueTopic, type TestClient } from '../helpers/mqtt.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

describe('13 WebSocket and TLS', () => {
  let tp: Thingport;
  let ca: Buffer;
  let tcp: TestClient;
  before(async () => {
    tp = await startThingport();
    ca = readFileSync(tp.endpoints.caFile);
    tcp = await connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('tcp13') });
  });
  after(async () => {
    await tcp?.end();
    await tp?.stop();
  });

  /** A message each way between the given client and the plain-TCP client. */
  async function exchange(other: TestClient, name: string): Promise<void> {
    const toOther = uniqueTopic(`${name}-in`);
    const fromOther = uniqueTopic(`${name}-out`);
    await other.subscribe(toOther, { qos: 1 });
    await tcp.subscribe(fromOther, { qos: 1 });
    await tcp.publish(toOther, `tcp->${name}`, { qos: 1 });
    await other.publish(fromOther, `${name}->tcp`, { qos: 1 });
    assert.equal((await other.waitMessage(toOther)).payload.toString(), `tcp->${name}`);
    assert.equal((await tcp.waitMessage(fromOther)).payload.toString(), `${name}->tcp`);
  }

  test('[Issue 2 §2 listeners] endpoints.json names ws and wss at /mqtt on the HTTP and HTTPS ports', () => {
    const ws = new URL(tp.endpoints.ws ?? '');
    const wss = new URL(tp.endpoints.wss ?? '');
    assert.equal(ws.protocol, 'ws:');
    assert.equal(ws.pathname, '/mqtt');
    assert.equal(ws.port, new URL(tp.endpoints.http ?? '').port);
    assert.equal(wss.protocol, 'wss:');
    assert.equal(wss.pathname, '/mqtt');
    assert.equal(wss.port, new URL(tp.endpoints.https ?? '').port);
  });

  for (const v of [4, 5] as const) {
    test(`[MQTT5 6.0] MQTT ${v === 4 ? '3.1.1' : '5'} over WebSocket at /mqtt exchanges messages with TCP clients`, async () => {
      const c = await connectClient(tp.endpoints.ws ?? '', { protocolVersion: v });
      await exchange(c, `ws${v}`);
      await c.end();
    });
  }

  test('[MQTT-6.0.0-4][MQTT-6.0.0-2] the server selects subprotocol "mqtt"; packets may span and share WebSocket frames', async () => {
    const ws = new WebSocket(tp.endpoints.ws ?? '', ['mqtt']);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    assert.equal(ws.protocol, 'mqtt');
    const frames: Buffer[] = [];
    const got = new Promise<void>((resolve) =>
      ws.on('message', (data: Buffer) => {
        frames.push(Buffer.from(data));
        // CONNACK (4 bytes for 3.1.1) then two PINGRESPs (2 bytes each).
        if (Buffer.concat(frames).length >= 8) resolve();
      }),
    );
    const connect = encodePacket({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: randomClientId('wsraw') }, 4);
    // CONNECT split across two frames, then two PINGREQs in one frame.
    ws.send(connect.subarray(0, 5));
    ws.send(connect.subarray(5));
    ws.send(Buffer.from([0xc0, 0x00, 0xc0, 0x00]));
    await got;
    const bytes = Buffer.concat(frames);
    assert.deepEqual([...bytes.subarray(0, 4)], [0x20, 0x02, 0x00, 0x00], 'CONNACK accepted');
    assert.deepEqual([...bytes.subarray(4, 8)], [0xd0, 0x00, 0xd0, 0x00], 'two PINGRESPs');
    ws.close();
  });

  test('[Issue 2 §2 listeners] a WebSocket path other than /mqtt is not an MQTT endpoint', async () => {
    const url = (tp.endpoints.ws ?? '').replace(/\/mqtt$/, '/not-mqtt');
    const ws = new WebSocket(url, ['mqtt']);
    const outcome = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('unexpected-response', (_req, res) => resolve(`http ${res.statusCode}`));
      ws.once('error', (e) => resolve(`error ${e.message}`));
    });
    ws.terminate();
    assert.notEqual(outcome, 'open');
  });

  for (const v of [4, 5] as const) {
    test(`[AWS ports] MQTT ${v === 4 ? '3.1.1' : '5'} over TLS, verified with the CA from endpoints.json`, async () => {
      const c = await connectClient(tp.endpoints.mqtts ?? '', { protocolVersion: v, ca, rejectUnauthorized: true });
      await exchange(c, `tls${v}`);
      await c.end();
    });
  }

  test('[AWS ports] the server certificate chains to the root CA and covers 127.0.0.1 and localhost', async () => {
    const port = tp.port('mqtts');
    for (const servername of ['localhost', undefined]) {
      const socket = tls.connect({ host: '127.0.0.1', port, ca, ...(servername ? { servername } : {}) });
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', () => resolve());
        socket.once('error', reject);
      });
      assert.equal(socket.authorized, true, String(socket.authorizationError));
      const san = socket.getPeerCertificate().subjectaltname ?? '';
      assert.match(san, /DNS:localhost/);
      assert.match(san, /IP Address:127\.0\.0\.1/);
      assert.equal(tls.checkServerIdentity('localhost', socket.getPeerCertificate()), undefined);
      socket.destroy();
    }
  });

  test('[AWS ports] without the private CA the TLS handshake is not trusted', async () => {
    await assert.rejects(
      connectClient(tp.endpoints.mqtts ?? '', { protocolVersion: 5, rejectUnauthorized: true }),
      (e: Error & { code?: string }) => /CERT|SIGNATURE|certificate/i.test(`${e.code ?? ''} ${e.message}`),
    );
  });

  for (const v of [4, 5] as const) {
    test(`[AWS ports] MQTT ${v === 4 ? '3.1.1' : '5'} over secure WebSocket at /mqtt on the HTTPS port`, async () => {
      const c = await connectClient(tp.endpoints.wss ?? '', { protocolVersion: v, ca, rejectUnauthorized: true });
      await exchange(c, `wss${v}`);
      await c.end();
    });
  }

  test('[MQTT-3.1.2-8] a WebSocket client that vanishes gets its will published, like a TCP client', async () => {
    const topic = uniqueTopic('wswill');
    await tcp.subscribe(topic, { qos: 1 });
    const c = await connectClient(tp.endpoints.ws ?? '', { protocolVersion: 5, will: { topic, payload: Buffer.from('ws gone'), qos: 1, retain: false } });
    c.destroy();
    assert.equal((await tcp.waitMessage(topic)).payload.toString(), 'ws gone');
  });
});
