// Device shadows over MQTT with mqtt.js against an in-process Thingport (broker + shadows):
// topics, payloads byte for byte, errors on /rejected, named shadows, versions across deletes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectClient, type TestClient } from '../helpers/mqtt.js';
import { startShadowServer, type ShadowServer } from '../helpers/shadow-server.js';

const T = 1720000000;
let server: ShadowServer;
let dev: TestClient;
let observer: TestClient;

before(async () => {
  server = await startShadowServer({ now: () => T * 1000 + 123 });
  dev = await connectClient(server.mqttUrl, { clientId: 'dev-1', protocolVersion: 4 });
  observer = await connectClient(server.mqttUrl, { clientId: 'observer', protocolVersion: 5 });
});
after(async () => {
  await dev.end();
  await observer.end();
  await server.close();
});

const p = (thing: string, name?: string): string => (name === undefined ? `$aws/things/${thing}/shadow` : `$aws/things/${thing}/shadow/name/${name}`);
const text = (r: { payload: Buffer }): string => r.payload.toString('utf8');

describe('classic shadow over MQTT', () => {
  test('AWS: update/accepted, update/delta and update/documents follow an update, in that order, byte for byte', async () => {
    const pre = p('lamp');
    await dev.subscribe([`${pre}/update/accepted`, `${pre}/update/delta`, `${pre}/update/documents`]);
    await dev.publish(`${pre}/update`, '{"state":{"desired":{"color":"red"},"reported":{"color":"green"}},"clientToken":"c1"}', { qos: 1 });
    const msgs = await dev.waitMessages((m) => m.topic.startsWith(`${pre}/update/`), 3);
    assert.deepEqual(msgs.map((m) => m.topic), [`${pre}/update/accepted`, `${pre}/update/delta`, `${pre}/update/documents`]);
    assert.equal(
      text(msgs[0]!),
      `{"state":{"desired":{"color":"red"},"reported":{"color":"green"}},"metadata":{"desired":{"color":{"timestamp":${T}}},"reported":{"color":{"timestamp":${T}}}},"version":1,"timestamp":${T},"clientToken":"c1"}`,
    );
    assert.equal(text(msgs[1]!), `{"version":1,"timestamp":${T},"state":{"color":"red"},"metadata":{"color":{"timestamp":${T}}},"clientToken":"c1"}`);
    assert.equal(
      text(msgs[2]!),
      `{"previous":null,"current":{"state":{"desired":{"color":"red"},"reported":{"color":"green"}},"metadata":{"desired":{"color":{"timestamp":${T}}},"reported":{"color":{"timestamp":${T}}}},"version":1},"timestamp":${T},"clientToken":"c1"}`,
    );
  });

  test('AWS: get/accepted includes the computed delta', async () => {
    const pre = p('lamp');
    await dev.subscribe(`${pre}/get/accepted`);
    await dev.publish(`${pre}/get`, '{"clientToken":"g1"}');
    const m = await dev.waitMessage(`${pre}/get/accepted`);
    assert.equal(
      text(m),
      `{"state":{"desired":{"color":"red"},"reported":{"color":"green"},"delta":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":${T}}},"reported":{"color":{"timestamp":${T}}}},"version":1,"timestamp":${T},"clientToken":"g1"}`,
    );
  });

  test('AWS: responses are published whether or not the requester subscribed', async () => {
    const pre = p('quiet');
    await observer.subscribe(`${pre}/update/accepted`);
    const fresh = await connectClient(server.mqttUrl, { clientId: 'no-subs' });
    await fresh.publish(`${pre}/update`, '{"state":{"reported":{"on":true}}}', { qos: 1 });
    const m = await observer.waitMessage(`${pre}/update/accepted`);
    assert.match(text(m), /"version":1/);
    await fresh.end();
  });

  test('AWS: no update/delta when the update leaves desired and reported equal', async () => {
    const pre = p('sync');
    await dev.subscribe([`${pre}/update/delta`, `${pre}/update/documents`]);
    await dev.publish(`${pre}/update`, '{"state":{"desired":{"a":1},"reported":{"a":1}}}', { qos: 1 });
    await dev.waitMessage(`${pre}/update/documents`);
    assert.equal(dev.matching(`${pre}/update/delta`).length, 0);
  });

  test('AWS: delete/accepted carries version and timestamp; the shadow is then 404; an update continues the version', async () => {
    const pre = p('del');
    await dev.subscribe([`${pre}/update/accepted`, `${pre}/delete/accepted`, `${pre}/get/rejected`]);
    for (let i = 0; i < 3; i++) await dev.publish(`${pre}/update`, `{"state":{"reported":{"i":${i}}}}`, { qos: 1 });
    await dev.waitMessages(`${pre}/update/accepted`, 3);
    await dev.publish(`${pre}/delete`, '{"clientToken":"d1"}', { qos: 1 });
    assert.equal(text(await dev.waitMessage(`${pre}/delete/accepted`)), `{"version":3,"timestamp":${T},"clientToken":"d1"}`);
    await dev.publish(`${pre}/get`, '', { qos: 1 });
    assert.equal(text(await dev.waitMessage(`${pre}/get/rejected`)), `{"code":404,"message":"No shadow exists with name: 'del'","timestamp":${T}}`);
    await dev.publish(`${pre}/update`, '{"state":{"reported":{"i":9}}}', { qos: 1 });
    const all = await dev.waitMessages(`${pre}/update/accepted`, 4);
    assert.match(text(all[3]!), /"version":4,/);
  });

  test('AWS: a stale version is rejected with 409 Version conflict on update/rejected', async () => {
    const pre = p('ver');
    await dev.subscribe([`${pre}/update/accepted`, `${pre}/update/rejected`]);
    await dev.publish(`${pre}/update`, '{"state":{"reported":{"a":1}}}', { qos: 1 });
    await dev.waitMessage(`${pre}/update/accepted`);
    await dev.publish(`${pre}/update`, '{"state":{"reported":{"a":2}},"version":0,"clientToken":"old"}', { qos: 1 });
    assert.equal(text(await dev.waitMessage(`${pre}/update/rejected`)), `{"code":409,"message":"Version conflict","timestamp":${T},"clientToken":"old"}`);
    await dev.publish(`${pre}/update`, '{"state":{"reported":{"a":2}},"version":1}', { qos: 1 });
    assert.match(text((await dev.waitMessages(`${pre}/update/accepted`, 2))[1]!), /"version":2,/);
  });
});

describe('errors on update/rejected (AWS Device Shadow error messages)', () => {
  const cases: Array<[string, string | Buffer, number, string]> = [
    ['AWS 400: Invalid JSON', '{"state":', 400, 'Invalid JSON'],
    ['AWS 400: Missing required node: state', '{"desired":{"a":1}}', 400, 'Missing required node: state'],
    ['AWS 400: JSON contains too many levels of nesting; maximum is 6', '{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}}}', 400, 'JSON contains too many levels of nesting; maximum is 6'],
    ['AWS 400: State contains an invalid node', '{"state":{"delta":{"a":1}}}', 400, 'State contains an invalid node'],
    ['AWS 413: The payload exceeds the maximum size allowed', `{"state":{"reported":{"big":"${'x'.repeat(9000)}"}}}`, 413, 'The payload exceeds the maximum size allowed'],
    ['AWS 415: Unsupported documented encoding', Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 415, 'Unsupported documented encoding; supported encoding is UTF-8'],
  ];
  for (const [rule, payload, code, message] of cases) {
    test(rule, async () => {
      const pre = p('errs');
      await dev.subscribe(`${pre}/update/rejected`);
      const before = dev.matching(`${pre}/update/rejected`).length;
      await dev.publish(`${pre}/update`, payload, { qos: 1 });
      const got = await dev.waitMessages(`${pre}/update/rejected`, before + 1);
      assert.equal(text(got[before]!), `{"code":${code},"message":"${message}","timestamp":${T}}`);
    });
  }

  test('AWS embedded C shadow demo: JSON followed by a NUL byte is accepted', async () => {
    const pre = p('nul');
    await dev.subscribe(`${pre}/update/accepted`);
    await dev.publish(`${pre}/update`, Buffer.concat([Buffer.from('{"state":{"reported":{"x":1}},"clientToken":"n"}'), Buffer.from([0])]), { qos: 1 });
    assert.match(text(await dev.waitMessage(`${pre}/update/accepted`)), /"clientToken":"n"}$/);
  });
});

describe('named shadows', () => {
  test('AWS: a named shadow lives on $aws/things/{thing}/shadow/name/{name}/… apart from the classic one', async () => {
    const pre = p('lamp', 'config');
    await dev.subscribe([`${pre}/update/accepted`, `${pre}/get/accepted`]);
    await dev.publish(`${pre}/update`, '{"state":{"desired":{"interval":60}}}', { qos: 1 });
    assert.match(text(await dev.waitMessage(`${pre}/update/accepted`)), /"version":1,/);
    await dev.publish(`${pre}/get`, '');
    assert.match(text(await dev.waitMessage(`${pre}/get/accepted`)), /^\{"state":\{"desired":\{"interval":60\},"delta":\{"interval":60\}\}/);
    const classic = server.shadows.service.read('lamp', null);
    assert.equal(classic?.version, 1);
  });

  test('AWS: a missing named shadow is 404 naming the shadow', async () => {
    const pre = p('lamp', 'nothing');
    await dev.subscribe(`${pre}/get/rejected`);
    await dev.publish(`${pre}/get`, '{"clientToken":"q"}');
    assert.equal(text(await dev.waitMessage(`${pre}/get/rejected`)), `{"code":404,"message":"No shadow exists with name: 'nothing'","timestamp":${T},"clientToken":"q"}`);
  });
});
