import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEndpoint } from './endpoint.js';
import type { IdentityError } from './errors.js';

const all = { mqtts: 'mqtts://127.0.0.1:8883', https: 'https://127.0.0.1:8443', mqtt: 'mqtt://127.0.0.1:1883' };

test('iot:Data and iot:Data-ATS are the MQTT-over-TLS listener; iot:CredentialProvider and iot:Jobs the HTTPS one', () => {
  assert.equal(describeEndpoint(all, 'iot:Data-ATS'), '127.0.0.1:8883');
  assert.equal(describeEndpoint(all, 'iot:Data'), '127.0.0.1:8883');
  assert.equal(describeEndpoint(all, undefined), '127.0.0.1:8883', 'AWS default: iot:Data');
  assert.equal(describeEndpoint(all, 'iot:CredentialProvider'), '127.0.0.1:8443');
  assert.equal(describeEndpoint(all, 'iot:Jobs'), '127.0.0.1:8443');
});

test('fallbacks when listeners are off, IPv6 hosts, and errors', () => {
  assert.equal(describeEndpoint({ mqtts: null, https: null, mqtt: 'mqtt://[::1]:1883' }, 'iot:Data-ATS'), '[::1]:1883');
  assert.throws(() => describeEndpoint({ ...all, https: null }, 'iot:Jobs'), (e: IdentityError) => e.code === 'endpoint.unavailable');
  assert.throws(() => describeEndpoint(all, 'iot:Bogus'), (e: IdentityError) => e.code === 'request.invalid' && /iot:Data-ATS/.test(e.message));
});
