// Mutual TLS end to end: a real Broker with identity's hooks behind a real TLS listener, mqtt.js
// devices with real client certificates, the real registry and the real policy engine.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { type Broker, listenMqtts, type Listener } from '../broker/index.js';
import type { Message } from '../core/index.js';
import { makeCa, signLeaf, tempDataDir } from './certificates-testkit.js';
import { createIdentityBroker, type IdentityBroker } from './broker-testkit.js';
import { type Identity } from './index.js';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
let dir: Awaited<ReturnType<typeof tempDataDir>>;
let broker: Broker;
let listener: Listener;
let identity: Identity;
let registry: IdentityBroker['registry'];
const seen: Message[] = [];
const clients: MqttClient[] = [];

before(async () => {
  dir = await tempDataDir();
  ({ broker, identity, registry } = await createIdentityBroker(dir.dataDir, { region: REGION, accountId: ACCOUNT }));
  listener = await listenMqtts(broker, '127.0.0.1', 0, { key: dir.serverKeyPem, cert: dir.serverCertPem, ca: dir.caPem, requestCert: true });
  broker.subscribe('#', (m) => seen.push(m));

  // A policy in the style of AWS's examples: connect as yourself, publish under your thing's name.
  identity.policies.service.createPolicy(
    'device',
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'iot:Connect', Resource: `arn:aws:iot:${REGION}:${ACCOUNT}:client/\${iot:Connection.Thing.ThingName}` },
        { Effect: 'Allow', Action: 'iot:Publish', Resource: `arn:aws:iot:${REGION}:${ACCOUNT}:topic/\${iot:Connection.Thing.ThingName}/*` },
      ],
    }),
  );
});

after(async () => {
  for (const c of clients) c.end(true);
  await listener?.close();
  await broker?.close();
  dir?.cleanup();
});

interface Device {
  certificateId: string;
  certificatePem: string;
  keyPem: string;
}

/** A device: CreateKeysAndCertificate (ACTIVE), a thing, the binding and the `device` policy. */
async function device(thingName: string, opts: { active?: boolean; policy?: boolean } = {}): Promise<Device> {
  const { record, keyPair } = await identity.certificates.createKeysAndCertificate(opts.active !== false);
  registry.service.createThing({ thingName });
  const arn = `arn:aws:iot:${REGION}:${ACCOUNT}:cert/${record.certificateId}`;
  identity.thingPrincipals.attach(thingName, arn);
  if (opts.policy !== false) identity.policies.service.attachPolicy('device', arn, ['cert'], 'target');
  return { certificateId: record.certificateId, certificatePem: record.certificatePem, keyPem: keyPair!.privateKeyPem };
}

type Outcome = { ok: true; client: MqttClient } | { ok: false; code: number | undefined; message: string };

/** Connects with MQTT 5 over TLS; resolves with the CONNACK outcome. */
function open(clientId: string, tlsOpts: { cert?: string; key?: string }): Promise<Outcome> {
  const options: IClientOptions = {
    protocolVersion: 5,
    clientId,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    ca: dir.caPem,
    rejectUnauthorized: true,
    ...tlsOpts,
  };
  return new Promise((resolve) => {
    const client = connect(`mqtts://127.0.0.1:${listener.port}`, options);
    clients.push(client);
    client.once('connect', () => resolve({ ok: true, client }));
    client.once('error', (err: Error & { code?: number }) => {
      resolve({ ok: false, code: err.code, message: err.message });
      client.end(true);
    });
    client.once('close', () => resolve({ ok: false, code: undefined, message: 'closed' }));
  });
}

const publish = (client: MqttClient, topic: string, payload: string): Promise<number | undefined> =>
  new Promise((resolve) => {
    client.publish(topic, payload, { qos: 1 }, (err, packet) => {
      const rc = (packet as { reasonCode?: number } | undefined)?.reasonCode;
      resolve(err ? ((err as Error & { code?: number }).code ?? rc ?? -1) : (rc ?? 0));
    });
  });

describe('mutual TLS', () => {
  test('an ACTIVE certificate from CreateKeysAndCertificate connects, with its thing as the connection thing', async () => {
    const d = await device('lamp-1');
    const r = await open('lamp-1', { cert: d.certificatePem, key: d.keyPem });
    assert.equal(r.ok, true, r.ok ? '' : r.message);
    const info = broker.describeClient('lamp-1')?.info;
    assert.equal(info?.principal, d.certificateId);
    assert.equal(info?.thingName, 'lamp-1');
  });

  test('no client certificate is 0x87 when anonymous clients are not admitted', async () => {
    const r = await open('anon', {});
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.code, 0x87);
  });

  test('INACTIVE and REVOKED certificates are refused (0x87)', async () => {
    const inactive = await device('lamp-2', { active: false });
    const r1 = await open('lamp-2', { cert: inactive.certificatePem, key: inactive.keyPem });
    assert.equal(r1.ok ? 0 : r1.code, 0x87);
    const revoked = await device('lamp-3');
    identity.certificates.updateCertificate(revoked.certificateId, 'REVOKED');
    const r2 = await open('lamp-3', { cert: revoked.certificatePem, key: revoked.keyPem });
    assert.equal(r2.ok ? 0 : r2.code, 0x87);
  });

  test('revoking a certificate disconnects its live connection at once', async () => {
    const d = await device('lamp-4');
    const r = await open('lamp-4', { cert: d.certificatePem, key: d.keyPem });
    assert.ok(r.ok);
    const closed = new Promise<void>((resolve) => r.client.once('close', () => resolve()));
    identity.certificates.updateCertificate(d.certificateId, 'REVOKED');
    await closed;
    assert.equal(broker.describeClient('lamp-4')?.connected ?? false, false);
  });

  test('a certificate from an unregistered CA is refused (0x86), though the TLS handshake itself succeeds', async () => {
    const stranger = await signLeaf(await makeCa('Unregistered CA'), 'CN=intruder');
    const r = await open('intruder', { cert: stranger.pem, key: stranger.keyPem });
    assert.equal(r.ok ? 0 : r.code, 0x86);
  });

  test('a certificate without the policy may not even connect (iot:Connect, default deny)', async () => {
    const d = await device('lamp-5', { policy: false });
    const r = await open('lamp-5', { cert: d.certificatePem, key: d.keyPem });
    assert.equal(r.ok ? 0 : r.code, 0x87);
  });

  test('topic/${iot:Connection.Thing.ThingName}/* lets the device publish under its name and nowhere else', async () => {
    const d = await device('lamp-6');
    const r = await open('lamp-6', { cert: d.certificatePem, key: d.keyPem });
    assert.ok(r.ok);
    assert.equal(await publish(r.client, 'lamp-6/telemetry', 'mine'), 0);
    assert.equal(await publish(r.client, 'lamp-1/telemetry', 'not mine'), 0x87);
    assert.equal(await publish(r.client, 'lamp-6', 'the name alone is not under it'), 0x87);
    const topics = seen.filter((m) => m.origin === 'lamp-6').map((m) => m.topic);
    assert.deepEqual(topics, ['lamp-6/telemetry']);
  });

  test('detaching the thing from a connected certificate applies at once: ${iot:Connection.Thing.ThingName} no longer resolves', async () => {
    const d = await device('lamp-8');
    const r = await open('lamp-8', { cert: d.certificatePem, key: d.keyPem });
    assert.ok(r.ok);
    assert.equal(await publish(r.client, 'lamp-8/a', 'bound'), 0);
    identity.thingPrincipals.detach('lamp-8', `arn:aws:iot:${REGION}:${ACCOUNT}:cert/${d.certificateId}`);
    assert.equal(await publish(r.client, 'lamp-8/a', 'unbound'), 0x87);
    identity.thingPrincipals.attach('lamp-8', `arn:aws:iot:${REGION}:${ACCOUNT}:cert/${d.certificateId}`);
    assert.equal(await publish(r.client, 'lamp-8/a', 'bound again'), 0);
  });

  test('anonymous clients (when admitted) are not subject to policies', () => {
    const anon = { clientId: 'a', username: null, remoteAddress: '127.0.0.1', transport: 'tcp', protocolVersion: 5, principal: null, thingName: null, authContext: null, sessionIdentifier: 's' } as const;
    const msg: Message = { topic: 'anything', payload: Buffer.alloc(0), qos: 0, retain: false, properties: null, expiresAt: 0, origin: 'a', headers: null };
    assert.equal(identity.hooks.authorizePublish(anon, msg), true);
    assert.equal(identity.hooks.authorizeSubscribe(anon, '#'), true);
    assert.equal(identity.hooks.authorizeReceive(anon, msg), true);
  });

  test('a client id that is not the thing name cannot connect under this policy (client/${iot:Connection.Thing.ThingName})', async () => {
    const d = await device('lamp-7');
    const r = await open('someone-else', { cert: d.certificatePem, key: d.keyPem });
    assert.equal(r.ok ? 0 : r.code, 0x87);
  });
});
