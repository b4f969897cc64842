/**
 * 06 — Anonymous access turned off: with `mqtt.anonymousLoopback: false` (and `allowAnonymous`
 * at its default, false) every MQTT client needs a registered certificate, loopback included —
 * the production setting docs/security.md recommends.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IoTClient } from '@aws-sdk/client-iot';
import { connectClient } from '../helpers/mqtt.js';
import { ALLOW_ALL, connectDevice, connectRefusal, iotClient, provisionDevice, RC } from '../helpers/iot.js';
import { randomClientId } from '../helpers/raw-client.js';
import { startThingport, type Thingport } from '../helpers/thingport.js';

describe('06 anonymous access off', () => {
  let tp: Thingport;
  let iot: IoTClient;
  before(async () => {
    tp = await startThingport({ args: ['--mqtt.anonymous-loopback', 'false'] });
    iot = iotClient(tp);
  });
  after(async () => {
    iot?.destroy();
    await tp?.stop();
  });

  for (const v of [5, 4] as const) {
    test(`[Issue 4 secure by default] mqtt.anonymousLoopback false: an anonymous MQTT ${v === 5 ? '5' : '3.1.1'} client on loopback is refused (${v === 5 ? '0x87' : 'return code 5'})`, async () => {
      const code = await connectRefusal(connectClient(tp.mqttPort, { protocolVersion: v, clientId: randomClientId('anon') }));
      assert.equal(code, v === 5 ? RC.NOT_AUTHORIZED : RC.V4_NOT_AUTHORIZED);
    });
  }

  test('[Issue 4 secure by default] over MQTT/TLS and secure WebSocket without a client certificate: refused', async () => {
    const ca = readFileSync(tp.endpoints.caFile);
    for (const url of [tp.endpoints.mqtts ?? '', tp.endpoints.wss ?? '', tp.endpoints.ws ?? '']) {
      const code = await connectRefusal(connectClient(url, { protocolVersion: 5, ca, rejectUnauthorized: true, clientId: randomClientId('anon-tls') }));
      assert.equal(code, RC.NOT_AUTHORIZED, url);
    }
  });

  test('[Issue 4 secure by default] a user name and password are no substitute for a certificate', async () => {
    const code = await connectRefusal(connectClient(tp.mqttPort, { protocolVersion: 5, clientId: randomClientId('anon-pw'), username: 'admin', password: 'admin' }));
    assert.ok(code === RC.NOT_AUTHORIZED || code === RC.BAD_USERNAME_OR_PASSWORD, `refused, 0x${code.toString(16)}`);
  });

  test('[Issue 4 §mTLS] a device with a registered certificate and a policy still connects, publishes and receives', async () => {
    const creds = await provisionDevice(iot, { thingName: 'prod-1', policyName: 'all', policyDocument: ALLOW_ALL });
    const c = await connectDevice(tp, creds, { clientId: 'prod-1' });
    await c.subscribe('prod/echo', { qos: 1 });
    await c.publish('prod/echo', 'hello', { qos: 1 });
    assert.equal((await c.waitMessage('prod/echo')).payload.toString(), 'hello');
    await c.end();
  });
});
